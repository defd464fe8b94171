"""Pure renderings for the notebook: the status and progress lines, the static outline.

Every view words a run as ``jupyter_warp.wording`` does (the extension's ``wording.ts`` and
the live tree repeat it; a test runs both). Document text (titles, plans, section text) is
untrusted: in HTML it is escaped, and the ``text/markdown`` fallback goes through
``escape_markdown`` (``safe_markdown``).
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from typing import Any

from jupyter_warp.mime import OUTLINE_MIME
from jupyter_warp.render import Outline, outline_text
from jupyter_warp.wording import (
    LOCKED_UNWRITTEN,
    count,
    empty_outline,
    is_over,
    run_meta,
    run_meta_title,
    section_number,
    short_number,
    state_label,
)

from .safe_markdown import escape_markdown, markdown_html

__all__ = ["status_line", "progress_line", "closing_line", "status_bundle", "outline_html", "outline_bundle", "Clock",
           "short_number", "state_label", "escape_markdown", "markdown_html", "SPINNER"]

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
"""One frame per tick of the progress line."""


def status_line(outline: Mapping[str, Any]) -> str:
    """The run's header line, as in the extension:
    ``drafting 2.1 · step 12/140 · 3/5 sections written · 4 searches · 1 extend · tokens 12k/3k``."""
    return run_meta(outline)


def _extras(rejected: int, fallbacks: int) -> list[str]:
    parts = []
    if rejected:
        parts.append(f"{rejected} rejected")
    if fallbacks:
        parts.append(f"{fallbacks} fallback{'' if fallbacks == 1 else 's'}")
    return parts


def progress_line(header: str, doing: str, elapsed: float, frame: int = 0, *, rejected: int = 0,
                  fallbacks: int = 0) -> str:
    """What ticks while a step runs: ``⠹ drafting 2.1 · 6 s · step 12/140 · 3/5 sections
    written · 4 searches · 1 extend · tokens 12k/3k · 2 rejected · 1 fallback``. ``header`` is
    ``run_meta(outline, with_state=False)``, made once per step: the state is ``doing``, in front."""
    parts = [f"{SPINNER[frame % len(SPINNER)]} {doing}", f"{elapsed:.0f} s", header, *_extras(rejected, fallbacks)]
    return " · ".join(parts)


def settled_line(outline: Mapping[str, Any], *, rejected: int = 0, fallbacks: int = 0) -> str:
    """Between steps: the header line and the rejected replies and fallbacks so far."""
    return " · ".join([run_meta(outline), *_extras(rejected, fallbacks)])


def closing_line(outline: Mapping[str, Any], wall_s: float, reason: str = "") -> str:
    """The run's last line, in the same words: ``done · step 8/140 · 3/3 sections written ·
    4 searches · 0 extends · tokens 4.7k/56 · 5.6 s · every section written``."""
    parts = [str(outline.get("status", "")), run_meta(outline), f"{wall_s:.1f} s"]
    return " · ".join(parts + ([reason] if reason else []))


def status_bundle(line: str) -> dict[str, str]:
    """A line (or a few) of status as an output: monospace HTML and plain text."""
    style = ("font-family: var(--jp-code-font-family, monospace); font-size: var(--jp-code-font-size, 13px); "
             "white-space: pre-wrap")
    return {"text/plain": line, "text/html": f'<div class="warp-status-line" style="{style}">{html.escape(line)}</div>'}


# The outline as a static output.
def outline_html(payload: Mapping[str, Any]) -> str:
    """A collapsible tree (``<details>``) that needs no script, in the extension's words:
    every text escaped."""
    e = html.escape
    over = is_over(str(payload.get("status", "")))

    def visit(nodes: list[Mapping[str, Any]]) -> str:
        items = []
        for n in nodes:
            status = str(n.get("status", ""))
            position = str(n["position"])
            head = (f'<span class="warp-node-number" title="{e(position)}">{e(section_number(position))}</span> '
                    f'{e(str(n.get("title", "")))} '
                    f'<span class="warp-badge" data-status="{e(status)}">{e(status)}</span> '
                    f'<span class="warp-cites">{e(count(int(n.get("citations") or 0), "citations"))}</span>')
            text = n.get("text") or ""
            if text:
                body = f'<div class="warp-node-text" style="white-space:pre-wrap">{e(str(text))}</div>'
            elif status == "locked":
                body = f'<div class="warp-node-note"><i>{e(LOCKED_UNWRITTEN)}</i></div>'
            elif n.get("plan"):
                body = f'<div class="warp-node-plan" style="white-space:pre-wrap">Plan: {e(str(n["plan"]))}</div>'
            else:
                body = ""
            kids = visit(n.get("children") or [])
            items.append(f'<li data-position="{e(position)}" data-status="{e(status)}"><details>'
                         f"<summary>{head}</summary>{body}{kids}</details></li>")
        return f'<ul class="warp-tree">{"".join(items)}</ul>' if items else ""

    status = str(payload.get("status", ""))
    meta = f'<span class="warp-outline-meta" title="{e(run_meta_title(payload))}">{e(run_meta(payload))}</span>'
    title = str(payload.get("title") or payload.get("query") or "WARP run")
    head = (f'<div class="warp-outline-head"><b>{e(title)}</b> '
            f'<span class="warp-badge warp-run-status" data-status="{e(status)}">{e(status)}</span> {meta}</div>')
    tree = visit(payload.get("nodes") or []) or f'<p class="warp-empty">{e(empty_outline(status))}</p>'
    return f'<div class="warp-outline-static" data-over="{str(over).lower()}">{head}{tree}</div>'


def outline_bundle(payload: Outline | Mapping[str, Any]) -> dict[str, Any]:
    """The static MIME bundle of an outline: the extension's JSON plus fallbacks any viewer shows."""
    outline: Any = payload
    return {
        OUTLINE_MIME: dict(outline),
        "text/html": outline_html(outline),
        "text/markdown": escape_markdown(outline_text(outline, markdown=True)),
        "text/plain": outline_text(outline),
    }


class Clock:
    """Seconds since creation (or the last ``reset``), for the progress line."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def reset(self) -> None:
        """Count from now."""
        self.t0 = time.monotonic()

    def __call__(self) -> float:
        """Seconds elapsed."""
        return time.monotonic() - self.t0
