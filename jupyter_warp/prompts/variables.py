"""How the report and the passages appear inside prompts: the condensed survey
(``current_outline``/``current_survey``) and the numbered passages (``current_information``)."""

from __future__ import annotations

from collections.abc import Sequence

from ..records import Passage
from ..report import FAILED, Report, format_position, parse_position


def condensed(report: Report, cursor_id: str | None = None, abbreviate: int | None = 160) -> str:
    """``## Section-2 [Title]`` with ``[PLAN]`` or ``[OK]`` lines.

    Written text is cut to ``abbreviate`` characters except near the cursor (the cursor's
    ancestors and the nodes that share its parent); None shows it all.
    """
    cursor = report.by_id(cursor_id) if cursor_id else None
    near: set[str] = set()
    if cursor:
        path = parse_position(cursor[0])
        near = {format_position(path[:i]) for i in range(1, len(path) + 1)}
        parent = path[:-1]
        near |= {p for p, _, _ in report.walk() if parse_position(p)[:-1] == parent}
    lines = [f"# {report.title}"] if report.title else []
    if not report.sections:
        lines.append("(no outline yet)")
    for pos, node, depth in report.walk():
        marker = " <- current" if cursor and node.id == cursor[1].id else ""
        lines.append(f"{'#' * (depth + 1)} Section-{pos.split('-', 1)[1]} [{node.title}]{marker}")
        if node.text:
            text = " ".join(node.text.split())
            if abbreviate is not None and pos not in near and len(text) > abbreviate:
                text = text[:abbreviate].rstrip() + " ..."
            lines.append(f"[OK] {text}")
        elif node.status == FAILED:
            lines.append(f"[FAILED] {node.plan}")
        else:
            lines.append(f"[PLAN] {node.plan}")
    return "\n".join(lines)


def render_passages(passages: Sequence[Passage], keys: Sequence[int], limit: int) -> str:
    """``[key] (file, p. N, heading) text``, one block per passage, text cut to ``limit``."""
    blocks = []
    for key, p in zip(keys, passages):
        where = p.path + (f", p. {p.page}" if p.page is not None else "") + (f", {p.heading}" if p.heading else "")
        blocks.append(f"[{key}] ({where}) {' '.join(p.text.split())[:limit]}")
    return "\n\n".join(blocks) if blocks else "(no passages found)"
