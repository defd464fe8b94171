"""How the report and the passages appear inside this project's own prompts: the condensed
survey (``current_outline``/``current_survey``) and the numbered passages
(``current_information``), each at a shortening level the prompt fitter picks.

Levels shorten what is far from the cursor first: written text of distant sections is
abbreviated, then reduced to a marker, then the sections near the cursor go the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..records import Passage
from ..report import FAILED, Report, format_position, parse_position

OWN_LEVELS: tuple[tuple[int | None, int | None], ...] = ((400, None), (120, None), (0, None), (0, 400), (0, 0))
"""(distant, near) characters of written text shown per level: None all of it, 0 a marker."""


def near_cursor(report: Report, cursor_id: str | None) -> set[str]:
    """The cursor, its ancestors and the nodes that share its parent."""
    cursor = report.by_id(cursor_id) if cursor_id else None
    if cursor is None:
        return set()
    path = parse_position(cursor[0])
    near = {format_position(path[:i]) for i in range(1, len(path) + 1)}
    return near | {p for p, _, _ in report.walk() if parse_position(p)[:-1] == path[:-1]}


def shorten(text: str, limit: int | None, marker: str = "...") -> str:
    """``text`` on one line, cut to ``limit`` characters (None: whole; 0: the marker only)."""
    text = " ".join(text.split())
    if limit is None or len(text) <= limit:
        return text
    return marker if limit == 0 else text[:limit].rstrip() + " ..."


def condensed(report: Report, cursor_id: str | None = None, level: int = 0, near: set[str] | None = None) -> str:
    """``## Section-2 [Title]`` with ``[PLAN]``, ``[OK]`` or ``[FAILED]`` lines; written
    text is shortened per ``OWN_LEVELS[level]`` (``near``: default, the cursor's neighbours)."""
    cursor = report.by_id(cursor_id) if cursor_id else None
    near = near_cursor(report, cursor_id) if near is None else near
    distant, close = OWN_LEVELS[min(level, len(OWN_LEVELS) - 1)]
    lines = [f"# {report.title}"] if report.title else []
    if not report.sections:
        lines.append("(no outline yet)")
    for pos, node, depth in report.walk():
        marker = " <- current" if cursor and node.id == cursor[1].id else ""
        lines.append(f"{'#' * (depth + 1)} Section-{pos.split('-', 1)[1]} [{node.title}]{marker}")
        if node.text:
            lines.append("[OK] " + shorten(node.text, close if pos in near else distant, "(written)"))
        elif node.status == FAILED:
            lines.append(f"[FAILED] {node.plan}")
        else:
            lines.append(f"[PLAN] {node.plan}")
    return "\n".join(lines)


def render_passages(passages: Sequence[Passage], keys: Sequence[int], limit: int) -> str:
    """``[key] (file, p. N, heading) text``, one block per passage, text cut to ``limit``."""
    blocks = []
    for key, p in zip(keys, passages, strict=False):
        where = p.path + (f", p. {p.page}" if p.page is not None else "") + (f", {p.heading}" if p.heading else "")
        blocks.append(f"[{key}] ({where}) {' '.join(p.text.split())[:limit]}")
    return "\n\n".join(blocks) if blocks else "(no passages found)"


class OwnView:
    """Prompt variables in this project's forms (``[key]`` passages, the condensed survey)."""

    name = "own"
    levels = len(OWN_LEVELS)

    def outline(self, report: Report, cursor_id: str | None, level: int = 0) -> str:
        """``current_outline`` of the search prompt."""
        return condensed(report, cursor_id, level)

    def survey(self, report: Report, cursor_id: str | None, level: int = 0) -> str:
        """``current_survey`` of the write prompt."""
        return condensed(report, cursor_id, level)

    def full_survey(self, report: Report, level: int = 0) -> str:
        """``current_survey`` of the extend prompt: every section near (whole at level 0)."""
        return condensed(report, None, level, near=set(report.positions()))

    def information(self, passages: Sequence[Passage], keys: Sequence[int], chars: int) -> str:
        """``current_information``: numbered passages with their location."""
        return render_passages(passages, keys, chars)

    def instruction(self, report: Report, cursor_id: str | None, phase: str) -> str:
        """What the node at the cursor must cover, or what the phase decides."""
        entry = report.by_id(cursor_id) if cursor_id else None
        if entry is not None:
            return f"update {entry[0]} [{entry[1].title}]: {entry[1].plan}"
        return {
            "search": "first search: find the evidence needed to plan a report that answers the question",
            "init_plan": "plan the report",
            "extend_plan": "decide whether a section needs more depth",
        }.get(phase, "")
