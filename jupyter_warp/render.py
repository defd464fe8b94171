"""One snapshot of a run per step: the outline, the report as Markdown and as notebook cells,
and the counters, computed once and handed to every front end.

The typed dicts mirror ``labextension/src/tokens.ts`` (formats in ``jupyter_warp.mime``).
Citations are renumbered ``[1]``, ``[2]``... in order of first use and the References list
holds exactly the passages cited. Nothing here is HTML: that is the notebook layer's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypedDict

import nbformat

from .citations import reference_lines, renumberer
from .machine import Phase, RunStatus
from .machine.write import QUOTED
from .mime import CELL_METADATA_KEY, FORMAT_VERSION
from .report import WRITTEN, Node
from .state import RunState
from .wording import LOCKED_UNWRITTEN, count, empty_outline, node_line, run_meta


class OutlineNode(TypedDict):
    """One node of the outline, with its children."""

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
    """The outline as front ends show it: the run's header fields and the nodes."""

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
    """One Markdown cell of the report, tagged with its run, position and citations."""

    cell_type: str
    source: str
    metadata: dict[str, Any]


class CellsPayload(TypedDict):
    """The report as notebook cells, for the extension to insert."""

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
    """Every view of the run at this step, computed once."""
    return Snapshot(s.step, s.status, outline(s), report_markdown(s), cells_payload(s), summary_line(s))


# The outline.
def node_status(node: Node, drafting: bool) -> str:
    """The status the outline shows: locked, drafting, extended (written, with children) or the node's own."""
    if node.locked:
        return "locked"
    if drafting:
        return "drafting"
    if node.status == WRITTEN and node.children:
        return "extended"
    return node.status.value


def outline(s: RunState) -> Outline:
    """The outline with the run's header; the cursor and drafting node only while the run is running."""
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
        "counts": {k: s.counters[k]
                   for k in ("searches", "writes", "extends", "failed_steps", "tokens_in", "tokens_out")},
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
                lines.append(f"{'  ' * depth}{node_line(n)}"
                             + (f"\n{'  ' * (depth + 1)}{LOCKED_UNWRITTEN}" if locked else ""))
            visit(n["children"], depth + 1)

    visit(o["nodes"], 0 if markdown else 1)
    if not o["nodes"]:
        lines.append(empty_outline(o.get("status", "")))
    return "\n".join(lines)


# The report.
_DOT = r"[.\uFF0E\u3002]"
_CN = "一二三四五六七八九十"
_NUMBERING = [
    re.compile(rf"(?i)^\s*section[-\s]*[\d{_DOT}]*\s*"),
    re.compile(rf"^(?:第\s*[0-9{_CN}百千]+\s*(?:章|节|部(?:分)?|篇|卷)\s*[-—:：\.、，,]?\s*)+"),
    re.compile(rf"^\s*\d+(?:{_DOT}\d+)+[\.、，,:：]?\s*"),
    re.compile(r"^\s*\d+[.、，,:：)）]\s*"),
    re.compile(r"^\s*[\(（]\d+[\)）]\s*"),
    re.compile(rf"^\s*[{_CN}]+(?:{_DOT}\d+)+[\.、，,]?\s*"),
    re.compile(rf"^\s*[{_CN}]+[.、，,]\s*"),
    re.compile(rf"^\s*[\(（][{_CN}]+[\)）]\s*"),
]
"""Model numbering at the start of a title (the reference's ``_surveycpm_clean_title``):
``Section-2.1``, ``2.1.``, ``3.``, ``(1)``, ``第一章``, ``一、``, ``（一）``."""


def clean_title(title: str) -> str:
    """A title without the numbering a model puts in front of it (the report numbers it)."""
    cleaned, before = title.strip(), ""
    while cleaned != before:
        before = cleaned
        for pattern in _NUMBERING:
            cleaned = pattern.sub("", cleaned, count=1)
    return cleaned.strip() or title.strip()


def shown_nodes(s: RunState) -> list[tuple[str, str, Node, int]]:
    """``(position, number, node, depth)`` of the nodes the report shows: written ones and
    those above them; numbered 1, 2, 2.1 in the order shown."""
    out: list[tuple[str, str, Node, int]] = []

    def visit(nodes: list[Node], prefix: str, number: str) -> None:
        shown = 0
        for i, node in enumerate(nodes, 1):
            position = f"{prefix}.{i}" if prefix else f"section-{i}"
            if not has_text(node):
                continue
            shown += 1
            label = f"{number}.{shown}" if number else str(shown)
            out.append((position, label, node, position.count(".") + 1))
            visit(node.children, position, label)

    visit(s.report.sections, "", "")
    return out


def has_text(node: Node) -> bool:
    """Whether the node or a node below it is written."""
    return bool(node.text) or any(has_text(c) for c in node.children)


def missing_nodes(s: RunState) -> list[str]:
    """Positions of the planned nodes the report leaves out (not written, or given up)."""
    return [pos for pos, node, _ in s.report.walk() if not has_text(node)]


def section_heading(number: str, node: Node, depth: int) -> str:
    """``## 2 Title`` / ``### 2.1 Title``: numbered headings one level per depth."""
    return f"{'#' * (depth + 1)} {number} {clean_title(node.title)}"


def node_body(node: Node, renumber: renumberer) -> str:
    """The node's text with its citations renumbered in order of first use."""
    return renumber(node.text, node.citations) if node.text else ""


def mode_note(s: RunState) -> str:
    """Which mode wrote the report: quote mode (sentences of the passages, chosen by the
    model, quoted word for word with their citation) or free mode (written by the model);
    empty while nothing is written."""
    written = [node for _, node, _ in s.report.walk() if node.text]
    quoted = sum(node.note == QUOTED for node in written)
    if not written:
        return ""
    if quoted == len(written):
        return ("*Written in quote mode: every sentence is quoted word for word from the passage it cites; "
                "the model chose the sentences and their order.*")
    if not quoted:
        return "*Written in free mode: the model wrote each section from the passages it cites.*"
    return (f"*Written in quote mode ({quoted} of {len(written)} sections: sentences quoted word for word from "
            "the passages they cite) and free mode (the others, written by the model).*")


def report_markdown(s: RunState) -> str:
    """The report as one Markdown document: title, mode note, numbered sections, References."""
    order = s.report.citation_order()
    renumber = renumberer(order)
    lines = [f"# {s.report.title or s.query}", ""]
    note = mode_note(s)
    if note:
        lines += [note, ""]
    for _, number, node, depth in shown_nodes(s):
        lines += [section_heading(number, node, depth), ""]
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
    rank = renumber.rank
    cells: list[ReportCell] = []
    parts: list[str] = []
    cited: list[int] = []
    position = ""

    def flush() -> None:
        if parts:
            meta = {"run_id": s.run_id, "position": position, "citations": sorted(set(cited))}
            cells.append({"cell_type": "markdown", "source": "\n\n".join(parts).strip() + "\n",
                          "metadata": {CELL_METADATA_KEY: meta}})

    for pos, number, node, depth in shown_nodes(s):
        if depth == 1:
            flush()
            parts, cited, position = [], [], pos
            if not cells:
                note = mode_note(s)
                parts += [f"# {s.report.title or s.query}"] + ([note] if note else [])
        parts.append(section_heading(number, node, depth))
        body = node_body(node, renumber)
        if body:
            parts.append(body)
        cited += [rank[k] for k in node.citations if k in rank]
    flush()
    if not cells:
        cells.append({"cell_type": "markdown", "source": f"# {s.report.title or s.query}\n",
                      "metadata": {CELL_METADATA_KEY: {"run_id": s.run_id, "position": "title", "citations": []}}})
    refs = reference_lines(order, s.registry)
    cells.append({
        "cell_type": "markdown",
        "source": "## References\n\n" + "\n\n".join(refs) + "\n" if refs else "## References\n\n(no citations)\n",
        "metadata": {CELL_METADATA_KEY: {"run_id": s.run_id, "position": "references",
                                         "citations": list(range(1, len(refs) + 1))}},
    })
    return cells


def cells_payload(s: RunState) -> CellsPayload:
    """The report's cells with the run they belong to."""
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
    """Status, counters and, once the run is over, the sections the report leaves out."""
    c = s.counters
    missing = missing_nodes(s) if s.status != RunStatus.RUNNING else []
    shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
    return (f"{s.status.value}: {count(s.step, 'steps')}, {count(c['searches'], 'searches')}, "
            f"{count(c['extends'], 'extends')}, {count(c['writes'], 'sections')} written, "
            f"tokens in/out {c['tokens_in']}/{c['tokens_out']}, wall {s.wall_s:.1f} s"
            + (f" ({s.stop_reason})" if s.stop_reason else "")
            + (f"; not in the report: {count(len(missing), 'sections')} ({shown})" if missing else ""))
