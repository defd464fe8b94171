"""One snapshot of a run per step: the outline, the report as Markdown and as notebook cells,
and the counters, computed once and handed to every front end.

The typed dicts mirror ``labextension/src/tokens.ts`` (formats in ``jupyter_warp.mime``).
Citations are renumbered ``[1]``, ``[2]``... in order of first use and the References list
holds exactly the passages cited. Nothing here is HTML: that is the notebook layer's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict

import nbformat

from .citations import reference_lines, renumberer
from .machine import Phase, RunStatus
from .mime import CELL_METADATA_KEY, FORMAT_VERSION
from .report import WRITTEN, Node
from .state import RunState
from .wording import LOCKED_UNWRITTEN, empty_outline, node_line, run_meta


class OutlineNode(TypedDict):
    id: str
    position: str
    title: str
    plan: str
    text: str
    status: str
    """planned, drafting, written, extended, locked or failed."""
    citations: int
    children: list[OutlineNode]


class Outline(TypedDict):
    version: int
    run_id: str
    title: str
    query: str
    status: str
    state: str
    step: int
    max_steps: int
    cursor: str | None
    counts: dict[str, int]
    nodes: list[OutlineNode]


class ReportCell(TypedDict):
    cell_type: str
    source: str
    metadata: dict[str, Any]


class CellsPayload(TypedDict):
    version: int
    run_id: str
    title: str
    cells: list[ReportCell]


@dataclass(frozen=True)
class Snapshot:
    """The run as every front end shows it after one step."""

    step: int
    status: RunStatus
    outline: Outline
    markdown: str
    cells: CellsPayload
    summary: str
    """One line: status, steps, searches, extends, sections, tokens, wall time."""


def snapshot(s: RunState) -> Snapshot:
    return Snapshot(s.step, s.status, outline(s), report_markdown(s), cells_payload(s), summary_line(s))


# The outline.
def node_status(node: Node, drafting: bool) -> str:
    if node.locked:
        return "locked"
    if drafting:
        return "drafting"
    if node.status == WRITTEN and node.children:
        return "extended"
    return node.status.value


def outline(s: RunState) -> Outline:
    active = s.status == RunStatus.RUNNING
    drafting = s.target_id if active and s.state == Phase.WRITE else None
    cursor = s.report.by_id(s.target_id) if active and s.target_id else None

    def visit(nodes: list[Node], prefix: str) -> list[OutlineNode]:
        out: list[OutlineNode] = []
        for i, node in enumerate(nodes, 1):
            position = f"{prefix}.{i}" if prefix else f"section-{i}"
            out.append({"id": node.id, "position": position, "title": node.title, "plan": node.plan,
                        "text": node.text, "status": node_status(node, node.id == drafting),
                        "citations": len(node.citations), "children": visit(node.children, position)})
        return out

    return {
        "version": FORMAT_VERSION,
        "run_id": s.run_id,
        "title": s.report.title or s.query,
        "query": s.query,
        "status": s.status.value,
        "state": s.state.value,
        "step": s.step,
        "max_steps": s.config.max_steps,
        "cursor": cursor[0] if cursor else None,
        "counts": {k: s.counters[k] for k in ("searches", "writes", "extends", "failed_steps", "tokens_in", "tokens_out")},
        "nodes": visit(s.report.sections, ""),
    }


def outline_text(o: Outline, markdown: bool = False) -> str:
    """The outline as plain text (terminals, logs) or as a Markdown list (viewers without
    the extension), in the words of every other view (``wording``): the title and status,
    the run's header line, then one line per node, ``2.1 Title — written, 1 citation``."""
    title = o.get("title") or o.get("query") or "WARP run"
    head = f"{title} — {o['status']}" if o.get("status") else title
    meta = run_meta(o)
    lines = [f"**{head}** · {meta}", ""] if markdown else [head, meta]

    def visit(nodes: list[OutlineNode], depth: int) -> None:
        for n in nodes:
            locked = n["status"] == "locked" and not n["text"]
            if markdown:
                lines.append(f"{'  ' * depth}- {node_line(n)}" + (f" · *{LOCKED_UNWRITTEN}*" if locked else ""))
            else:
                lines.append(f"{'  ' * depth}{node_line(n)}" + (f"\n{'  ' * (depth + 1)}{LOCKED_UNWRITTEN}" if locked else ""))
            visit(n["children"], depth + 1)

    visit(o["nodes"], 0 if markdown else 1)
    if not o["nodes"]:
        lines.append(empty_outline(o.get("status", "")))
    return "\n".join(lines)


def plural(n: int, word: str) -> str:
    """``1 citation``, ``2 citations``, ``2 searches``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}es" if word.endswith(("h", "s")) else f"{n} {word}s"


# The report.
def section_heading(position: str, node: Node, depth: int) -> str:
    """``## 2 Title`` / ``### 2.1 Title``: numbered headings one level per depth."""
    return f"{'#' * (depth + 1)} {position.split('-', 1)[1]} {node.title}"


def node_body(node: Node, renumber: Callable[[str], str]) -> str:
    if node.text:
        return renumber(node.text)
    if node.status == "failed":
        return f"*Not written: {node.note}*"
    return ""


def report_markdown(s: RunState) -> str:
    order = s.report.citation_order()
    renumber = renumberer(order)
    lines = [f"# {s.report.title or s.query}", ""]
    for pos, node, depth in s.report.walk():
        lines += [section_heading(pos, node, depth), ""]
        body = node_body(node, renumber)
        if body:
            lines += [body, ""]
    refs = reference_lines(order, s.registry)
    if refs:
        lines += ["## References", ""]
        for line in refs:
            lines += [line, ""]
    return "\n".join(lines).rstrip() + "\n"


def report_cells(s: RunState) -> list[ReportCell]:
    """One Markdown cell per top-level section (with its subsections), then References."""
    order = s.report.citation_order()
    renumber = renumberer(order)
    rank = {key: n for n, key in enumerate(order, 1)}
    cells: list[ReportCell] = []
    parts: list[str] = []
    cited: list[int] = []
    position = ""

    def flush() -> None:
        if parts:
            meta = {"run_id": s.run_id, "position": position, "citations": sorted(set(cited))}
            cells.append({"cell_type": "markdown", "source": "\n\n".join(parts).strip() + "\n",
                          "metadata": {CELL_METADATA_KEY: meta}})

    for pos, node, depth in s.report.walk():
        if depth == 1:
            flush()
            parts, cited, position = [], [], pos
            if not cells:
                parts.append(f"# {s.report.title or s.query}")
        parts.append(section_heading(pos, node, depth))
        body = node_body(node, renumber)
        if body:
            parts.append(body)
        cited += [rank[k] for k in node.citations if k in rank]
    flush()
    refs = reference_lines(order, s.registry)
    cells.append({
        "cell_type": "markdown",
        "source": "## References\n\n" + "\n\n".join(refs) + "\n" if refs else "## References\n\n(no citations)\n",
        "metadata": {CELL_METADATA_KEY: {"run_id": s.run_id, "position": "references",
                                         "citations": list(range(1, len(refs) + 1))}},
    })
    return cells


def cells_payload(s: RunState) -> CellsPayload:
    return {"version": FORMAT_VERSION, "run_id": s.run_id, "title": s.report.title or s.query, "cells": report_cells(s)}


def report_notebook(payload: CellsPayload, query: str) -> str:
    """The report as an ``.ipynb`` document (one Markdown cell per section, References)."""
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    nb.metadata[CELL_METADATA_KEY] = {"run_id": payload["run_id"], "query": query}
    for cell in payload["cells"]:
        nb.cells.append(nbformat.v4.new_markdown_cell(cell["source"], metadata=cell["metadata"]))  # type: ignore[no-untyped-call]
    return str(nbformat.writes(nb))  # type: ignore[no-untyped-call]


# The run as one line.
def summary_line(s: RunState) -> str:
    c = s.counters
    return (f"{s.status.value}: {plural(s.step, 'step')}, {plural(c['searches'], 'search')}, "
            f"{plural(c['extends'], 'extend')}, {plural(c['writes'], 'section')} written, "
            f"tokens in/out {c['tokens_in']}/{c['tokens_out']}, wall {s.wall_s:.1f} s"
            + (f" ({s.stop_reason})" if s.stop_reason else ""))
