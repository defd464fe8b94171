"""One wording for every view of a run: the terminal and Markdown outline (``render``), the
notebook's static views and status line (``kernel_magics``), and the JupyterLab extension
(``labextension/src/wording.ts``; ``kernel_magics/static/outline.js`` repeats it). A test runs
these functions and the JavaScript ones on the same cases.

Numbers: below 1000 exactly; above, one abbreviation computed with integers only (rounded
down), so Python and JavaScript agree digit for digit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COUNT_WORDS = {
    "citations": ("citation", "citations"),
    "searches": ("search", "searches"),
    "extends": ("extend", "extends"),
    "sections": ("section", "sections"),
    "steps": ("step", "steps"),
}

STATE_WORDS = {"search": "searching", "init_plan": "planning", "write": "drafting",
               "extend_plan": "deepening", "done": "done"}

OVER_STATUSES = ("done", "failed", "stopped")
"""A run with one of these statuses takes no more steps."""

LOCKED_UNWRITTEN = "Locked before it was written."
"""The body of a locked section that was never written: never an empty heading."""


def count(n: int, what: str) -> str:
    """``count(1, "citations")`` -> ``1 citation``; ``count(2, "searches")`` -> ``2 searches``."""
    one, many = COUNT_WORDS[what]
    return f"{n} {one if n == 1 else many}"


def _tenths(n: int, unit: int, suffix: str) -> str:
    d = n // (unit // 10)
    return f"{d // 10}.{d % 10}{suffix}" if d % 10 else f"{d // 10}{suffix}"


def short_number(n: float) -> str:
    """999 -> ``999``, 1234 -> ``1.2k``, 1000 -> ``1k``, 12345 -> ``12k``, 1234567 -> ``1.2M``,
    12345678 -> ``12M``: always rounded down."""
    n = max(0, int(n // 1))
    if n < 1000:
        return str(n)
    if n < 10_000:
        return _tenths(n, 1000, "k")
    if n < 1_000_000:
        return f"{n // 1000}k"
    if n < 10_000_000:
        return _tenths(n, 1_000_000, "M")
    return f"{n // 1_000_000}M"


def section_number(position: str) -> str:
    """``section-2.1`` -> ``2.1``: the number a reader sees before a title."""
    return position[len("section-"):] if position.startswith("section-") else position


def state_label(state: str, cursor: str | None = None) -> str:
    """``drafting 2.1``, ``searching for 1``, ``planning``, ``deepening``."""
    word = STATE_WORDS.get(state, state)
    if cursor and state == "write":
        return f"{word} {section_number(cursor)}"
    if cursor and state == "search":
        return f"{word} for {section_number(cursor)}"
    return word


def is_over(status: str) -> bool:
    """Whether a run with this status is over (its outline can no longer change)."""
    return status in OVER_STATUSES


def is_written(node: Mapping[str, Any]) -> bool:
    """A node counts as written when its status says so, or it was locked with its text."""
    status = node.get("status")
    return status in ("written", "extended") or (status == "locked" and bool(node.get("text")))


def summarize(outline: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's header needs from an outline payload: its fields, and sections written/all."""
    sections = written = 0

    def visit(nodes: list[Mapping[str, Any]]) -> None:
        nonlocal sections, written
        for node in nodes or []:
            sections += 1
            written += is_written(node)
            visit(node.get("children") or [])

    visit(outline.get("nodes") or [])
    return {"status": outline.get("status") or "", "state": outline.get("state") or "",
            "step": outline.get("step") or 0, "max_steps": outline.get("max_steps") or None,
            "cursor": outline.get("cursor") or None, "counts": dict(outline.get("counts") or {}),
            "written": written, "sections": sections}


def run_meta(outline: Mapping[str, Any], *, with_state: bool = True) -> str:
    """The line under a run's title:
    ``drafting 2.1 · step 12/140 · 3/5 sections written · 4 searches · 1 extend · tokens 1.2k/567``.
    The state only while the run can still move, and never with ``with_state=False`` (the
    progress line, which says it in front); counts only when the payload has them."""
    run = summarize(outline)
    parts = []
    if with_state and not is_over(run["status"]) and run["state"] and run["state"] != "done":
        parts.append(state_label(run["state"], run["cursor"]))
    parts.append(f"step {run['step']}/{run['max_steps']}" if run["max_steps"] else f"step {run['step']}")
    parts.append(f"{run['written']}/{count(run['sections'], 'sections')} written")
    c = run["counts"]
    if "searches" in c:
        parts.append(count(c["searches"], "searches"))
    if "extends" in c:
        parts.append(count(c["extends"], "extends"))
    if "tokens_in" in c or "tokens_out" in c:
        parts.append(f"tokens {short_number(c.get('tokens_in', 0))}/{short_number(c.get('tokens_out', 0))}")
    return " · ".join(parts)


def run_meta_title(outline: Mapping[str, Any]) -> str:
    """The exact numbers behind ``run_meta``'s abbreviations, for a tooltip."""
    c = outline.get("counts") or {}
    return f"{c.get('tokens_in', 0)} tokens in, {c.get('tokens_out', 0)} tokens out"


def empty_outline(status: str) -> str:
    """What an outline with no node says."""
    return "No outline: the run ended before a plan." if is_over(status) else "No outline yet."


def node_line(node: Mapping[str, Any]) -> str:
    """``2.1 Drafting — written, 1 citation``."""
    return (f"{section_number(str(node.get('position', '')))} {node.get('title', '')} — "
            f"{node.get('status', '')}, {count(int(node.get('citations') or 0), 'citations')}")
