"""Pure renderings for the notebook: status line, step detail, static outline, safe Markdown.

Document text (passages, titles, model output) is untrusted: in HTML it is escaped, and
Markdown becomes HTML through markdown-it-py with raw HTML disabled, then nh3. The
``text/markdown`` fallbacks escape ``<`` and ``&`` outside code, so a trusted output in
JupyterLab never turns model text into live markup.
"""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any

from jupyter_warp.machine import Phase
from jupyter_warp.mime import OUTLINE_MIME
from jupyter_warp.records import Step
from jupyter_warp.render import Outline, outline_text, plural

PHASE_WORDS = {Phase.SEARCH: "searching", Phase.INIT_PLAN: "planning", Phase.WRITE: "drafting",
               Phase.EXTEND_PLAN: "deepening", Phase.DONE: "done"}


def state_label(state: str, position: str | None = None) -> str:
    """``drafting section-2.1``, ``searching for section-1``, ``planning``, ``deepening``."""
    phase = Phase(state)
    word = PHASE_WORDS[phase]
    if position and phase == Phase.WRITE:
        return f"{word} {position}"
    if position and phase == Phase.SEARCH:
        return f"{word} for {position}"
    return word


def short_number(n: int) -> str:
    """12345 -> ``12k``; small numbers as they are."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n // 1000}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def status_line(outline: Outline, max_steps: int, elapsed: float | None = None) -> str:
    """``drafting section-2.1 · step 12/140 · 4 searches · 1 extend · tokens 12k/3k · 41 s``."""
    counts = outline.get("counts", {})
    status = outline.get("status", "running")
    label = state_label(outline.get("state", ""), outline.get("cursor"))
    if status not in ("running", "done"):
        label = f"{status} ({label})"
    parts = [label, f"step {outline.get('step', 0)}/{max_steps}",
             plural(counts.get("searches", 0), "search"), plural(counts.get("extends", 0), "extend"),
             f"tokens {short_number(counts.get('tokens_in', 0))}/{short_number(counts.get('tokens_out', 0))}"]
    if elapsed is not None:
        parts.append(f"{elapsed:.0f} s")
    return " · ".join(parts)


def status_bundle(line: str) -> dict[str, str]:
    style = "font-family: var(--jp-code-font-family, monospace); font-size: var(--jp-code-font-size, 13px)"
    return {"text/plain": line, "text/html": f'<div class="warp-status-line" style="{style}">{html.escape(line)}</div>'}


# Safe Markdown.
_CODE = re.compile(r"(^```.*?^```[ \t]*$|^~~~.*?^~~~[ \t]*$|(`+)(?:.|\n)*?\2)", re.MULTILINE | re.DOTALL)


def escape_markdown(text: str) -> str:
    """Markdown that renders the same but can hold no raw HTML: ``<`` and ``&`` are escaped
    outside code spans and fenced blocks (where Markdown shows them literally anyway)."""
    out: list[str] = []
    last = 0
    for match in _CODE.finditer(text):
        out.append(_escape_plain(text[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_escape_plain(text[last:]))
    return "".join(out)


def _escape_plain(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    # A link to javascript: or data: is not a link this report needs.
    return re.sub(r"\]\(\s*(javascript|vbscript|data):", r"](unsafe-\1:", text, flags=re.IGNORECASE)


_md = None


def markdown_html(text: str) -> str:
    """Markdown to HTML with raw HTML disabled, then sanitized with nh3."""
    global _md
    import nh3

    if _md is None:
        from markdown_it import MarkdownIt

        _md = MarkdownIt("commonmark", {"html": False}).enable("table")
    return nh3.clean(_md.render(text))


# The outline as a static output.
def outline_html(payload: Outline) -> str:
    """A collapsible tree (``<details>``) that needs no script: every text escaped."""
    e = html.escape

    def visit(nodes: list[dict[str, Any]]) -> str:
        items = []
        for n in nodes:
            head = (f'<code>{e(n["position"])}</code> {e(n["title"])} '
                    f'<span class="warp-badge warp-status-{e(n["status"])}">{e(n["status"])}</span> '
                    f'<span class="warp-cites">{int(n["citations"])} cit.</span>')
            body = e(n.get("text") or n.get("plan") or "")
            kids = visit(n.get("children", []))
            items.append(f'<li data-position="{e(n["position"])}"><details><summary>{head}</summary>'
                         f'<div class="warp-node-text" style="white-space:pre-wrap">{body}</div>{kids}</details></li>')
        return f"<ul>{''.join(items)}</ul>" if items else ""

    counts = payload.get("counts", {})
    head = (f"<b>{e(payload.get('title', ''))}</b> — {e(payload.get('status', ''))}, step {int(payload.get('step', 0))}, "
            f"{int(counts.get('searches', 0))} searches, {int(counts.get('extends', 0))} extends")
    return f'<div class="warp-outline-static">{head}{visit(payload.get("nodes", [])) or "<p>(no outline yet)</p>"}</div>'


def outline_bundle(payload: Outline) -> dict[str, Any]:
    """The static MIME bundle of an outline: the extension's JSON plus fallbacks any viewer shows."""
    return {
        OUTLINE_MIME: payload,
        "text/html": outline_html(payload),
        "text/markdown": escape_markdown(outline_text(payload, markdown=True)),
        "text/plain": outline_text(payload),
    }


# One step, for the controller's detail panel.
def step_html(step: Step | None, next_label: str = "") -> str:
    e = html.escape
    if step is None:
        return f'<div class="warp-step"><p>No step taken yet. Next: <b>{e(next_label)}</b>.</p></div>'
    parts = [f'<div class="warp-step"><div class="warp-step-head"><b>step {step.index}</b> · '
             f'<span class="warp-step-state">{e(state_label(step.state, step.position))}</span>'
             f'{" · next: " + e(next_label) if next_label else ""}</div>']
    if step.error:
        parts.append(f'<div class="warp-step-error">rejected: {e(step.error)}</div>')
    if step.fallback:
        parts.append(f'<div class="warp-step-error">fallback: {e(step.fallback)}</div>')
    if step.thought:
        parts.append(f'<div class="warp-step-thought"><b>thought</b> {e(step.thought)}</div>')
    if step.action is not None:
        action = json.dumps(step.action, ensure_ascii=False, indent=1)
        parts.append(f'<details class="warp-step-action" open><summary>action</summary><pre>{e(action)}</pre></details>')
    if step.passages:
        rows = []
        for key, p in zip(step.keys or [None] * len(step.passages), step.passages):
            where = p.path + (f", p. {p.page}" if p.page is not None else "") + (f" § {p.heading}" if p.heading else "")
            label = f"[{key}] " if key is not None else ""
            rows.append(f'<li><details><summary>{e(label + where)}</summary>'
                        f'<div style="white-space:pre-wrap">{e(p.text)}</div></details></li>')
        parts.append(f'<details class="warp-step-passages"><summary>{len(step.passages)} passages</summary>'
                     f'<ul>{"".join(rows)}</ul></details>')
    if step.diff:
        parts.append('<div class="warp-step-diff"><b>changes</b><ul>' +
                     "".join(f"<li><code>{e(line)}</code></li>" for line in step.diff) + "</ul></div>")
    took = step.latency_s or max(0.0, step.ended_at - step.started_at)
    parts.append(f'<div class="warp-step-meta">tokens {step.prompt_tokens}/{step.completion_tokens} · {took:.1f} s</div></div>')
    return "".join(parts)


class Clock:
    """Seconds since creation, for the status line."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.t0
