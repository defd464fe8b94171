"""The step-through controller's panel: what the last step did, readable.

The action as a short summary (the keywords searched, the plan's titles, the first lines of
the section written, the position extended and its new subsections), the passages with their
path relative to the notebook (or to the folder they share) and heading, passage text
rendered as text, and the changes. Everything from documents or the model is escaped or
rendered as safe Markdown.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from typing import Any

from jupyter_warp.records import Passage, Step
from jupyter_warp.wording import section_number, short_number, state_label

FIRST_LINES = 3
"""Lines of a written section shown in the summary."""
FIRST_CHARS = 320
MARKDOWN_FILES = (".md", ".markdown", ".ipynb", ".rst")
e = html.escape


def _number(position: Any) -> str:
    return section_number(str(position)) if position else "?"


def _first_lines(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()][:FIRST_LINES]
    shown = "\n".join(lines)
    if len(shown) > FIRST_CHARS:
        shown = shown[:FIRST_CHARS].rstrip() + " …"
    elif len(shown) < len(text.strip()):
        shown += " …"
    return shown


def action_summary(step: Step) -> tuple[str, list[str], str]:
    """``(what, items, text)``: one line saying what the model did, a short list (keywords,
    titles) and an excerpt of text (a written section), any of them empty."""
    a = step.action or {}
    name = str(a.get("name", ""))
    if name == "search":
        return "searched for", [str(k) for k in a.get("keywords", [])], ""
    if name in ("init-plan", "init_plan"):
        sections = a.get("sections", [])
        titles = [f"{i} {s.get('title', '')}" for i, s in enumerate(sections, 1) if isinstance(s, dict)]
        return f"planned “{a.get('title', '')}” in {len(titles)} sections", titles, ""
    if name == "write":
        return f"wrote {_number(a.get('position') or step.position)}", [], _first_lines(str(a.get("text", "")))
    if name in ("extend-plan", "extend_plan"):
        at = _number(a.get("position"))
        subs = [s for s in a.get("subsections", []) if isinstance(s, dict)]
        return f"split {at} into {len(subs)} subsections", [f"{at}.{i} {s.get('title', '')}"
                                                             for i, s in enumerate(subs, 1)], ""
    if name == "nop":
        return "judged the report complete", [], ""
    return name or "no action", [], ""


def passage_places(passages: Sequence[Passage]) -> tuple[str, list[str]]:
    """The passages' paths, relative to the working folder (the notebook's) when they are
    inside it, else to the folder they all share, which is returned first (``""`` if none)."""
    paths = [p.path for p in passages]
    cwd = os.path.abspath(os.curdir)

    def inside(path: str) -> bool:
        try:
            return os.path.commonpath([cwd, os.path.abspath(path)]) == cwd
        except ValueError:
            return False

    if all(inside(path) for path in paths):
        return "", [os.path.relpath(path, cwd) for path in paths]
    try:
        root = os.path.commonpath([os.path.dirname(os.path.abspath(path)) for path in paths])
    except ValueError:
        return "", paths
    return root, [os.path.relpath(path, root) for path in paths]


def _passage_body(p: Passage) -> str:
    if os.path.splitext(p.path)[1].lower() in MARKDOWN_FILES:
        from .safe_markdown import markdown_html

        return f'<div class="warp-passage-text">{markdown_html(p.text)}</div>'
    return f'<div class="warp-passage-text" style="white-space:pre-wrap">{e(p.text)}</div>'


def _passages(step: Step) -> str:
    root, places = passage_places(step.passages)
    keys: list[int | None] = list(step.keys) if len(step.keys) == len(step.passages) else [None] * len(step.passages)
    rows = []
    for key, p, place in zip(keys, step.passages, places, strict=True):
        where = place + (f", p. {p.page}" if p.page is not None else "") + (f" § {p.heading}" if p.heading else "")
        label = f"[{key}] " if key is not None else ""
        rows.append(f'<li><details><summary>{e(label + where)}</summary>{_passage_body(p)}</details></li>')
    within = f" in {e(root)}" if root else ""
    return (f'<details class="warp-step-passages"><summary>{len(step.passages)} passages{within}</summary>'
            f'<ul>{"".join(rows)}</ul></details>')


def step_html(step: Step | None, next_label: str = "", over: str = "") -> str:
    """The panel for ``step``; ``next_label`` says what the next step does, ``over`` (instead)
    why the run has ended."""
    after = f" · run over: {e(over)}" if over else (f" · next: {e(next_label)}" if next_label else "")
    if step is None:
        first = f"Run over: {e(over)}." if over else f"No step taken yet. Next: <b>{e(next_label)}</b>."
        return f'<div class="warp-step"><p>{first}</p></div>'
    parts = [f'<div class="warp-step"><div class="warp-step-head"><b>step {step.index}</b> · '
             f'<span class="warp-step-state">{e(state_label(step.state, step.position))}</span>{after}</div>']
    if step.error:
        parts.append(f'<div class="warp-step-error">rejected: {e(step.error)}</div>')
    if step.fallback:
        parts.append(f'<div class="warp-step-error">fallback: {e(step.fallback)}</div>')
    if step.thought:
        parts.append(f'<div class="warp-step-thought"><b>thought</b> {e(step.thought)}</div>')
    if step.action is not None:
        what, items, text = action_summary(step)
        body = f"<b>{e(what)}</b>"
        if items and step.action.get("name") == "search":
            body += ": " + e(" · ".join(items))
        elif items:
            body += "<ul>" + "".join(f"<li>{e(item)}</li>" for item in items) + "</ul>"
        if text:
            body += f'<div class="warp-step-excerpt" style="white-space:pre-wrap">{e(text)}</div>'
        parts.append(f'<div class="warp-step-action">{body}</div>')
    elif step.reply:
        parts.append(f'<details class="warp-step-reply"><summary>reply</summary>'
                     f'<div style="white-space:pre-wrap">{e(step.reply[:2000])}</div></details>')
    if step.passages:
        parts.append(_passages(step))
    if step.diff:
        parts.append('<div class="warp-step-diff"><b>changes</b><ul>' +
                     "".join(f"<li>{e(line)}</li>" for line in step.diff) + "</ul></div>")
    took = step.latency_s or max(0.0, step.ended_at - step.started_at)
    tokens = f"tokens {short_number(step.prompt_tokens)}/{short_number(step.completion_tokens)}"
    parts.append(f'<div class="warp-step-meta" title="{step.prompt_tokens} tokens in, {step.completion_tokens} '
                 f'tokens out">{tokens} · {took:.1f} s</div></div>')
    return "".join(parts)
