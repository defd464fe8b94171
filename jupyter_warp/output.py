"""What a finished (or running) report becomes: Markdown, notebook cells, an outline payload.

Citations are renumbered ``[1]``, ``[2]``... in order of first use and the References list
holds exactly the passages cited. The cell and outline formats are those of ``mime``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from .citations import reference_lines, renumberer
from .mime import CELL_METADATA_KEY, FORMAT_VERSION
from .report import node_body, section_heading
from .state import RunState


def report_markdown(s: RunState) -> str:
    order = s.report.citation_order()
    return s.report.to_markdown(renumberer(order), reference_lines(order, s.registry))


def report_cells(s: RunState) -> list[dict[str, Any]]:
    """One Markdown cell per top-level section (with its subsections), then References."""
    order = s.report.citation_order()
    renumber = renumberer(order)
    rank = {key: n for n, key in enumerate(order, 1)}
    cells: list[dict[str, Any]] = []
    top: list[str] = []
    cited: list[int] = []
    position = ""

    def flush() -> None:
        if top:
            meta = {"run_id": s.run_id, "position": position, "citations": sorted(set(cited))}
            cells.append({"cell_type": "markdown", "source": "\n\n".join(top).strip() + "\n",
                          "metadata": {CELL_METADATA_KEY: meta}})

    for pos, node, depth in s.report.walk():
        if depth == 1:
            flush()
            top, cited, position = [], [], pos
            if not cells:
                top.append(f"# {s.report.title or s.query}")
        top.append(section_heading(pos, node, depth))
        body = node_body(node, renumber)
        if body:
            top.append(body)
        cited += [rank[k] for k in node.citations if k in rank]
    flush()
    refs = reference_lines(order, s.registry)
    cells.append({
        "cell_type": "markdown",
        "source": "## References\n\n" + "\n\n".join(refs) + "\n" if refs else "## References\n\n(no citations)\n",
        "metadata": {CELL_METADATA_KEY: {"run_id": s.run_id, "position": "references", "citations": list(range(1, len(refs) + 1))}},
    })
    return cells


def cells_payload(s: RunState) -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "run_id": s.run_id, "title": s.report.title or s.query, "cells": report_cells(s)}


def outline_payload(s: RunState, status: str | None = None) -> dict[str, Any]:
    drafting = s.target_id if s.state == "write" else None
    return {
        "version": FORMAT_VERSION,
        "run_id": s.run_id,
        "title": s.report.title or s.query,
        "query": s.query,
        "status": status or s.status,
        "state": s.state,
        "step": s.step,
        "cursor": (s.report.by_id(s.target_id) or (None,))[0] if s.target_id else None,
        "counts": {
            "searches": s.counters["searches"],
            "extends": s.counters["extends"],
            "tokens_in": s.counters["tokens_in"],
            "tokens_out": s.counters["tokens_out"],
        },
        "nodes": s.report.outline_nodes(drafting),
    }


def outline_markdown(payload: dict[str, Any]) -> str:
    """A plain fallback of the outline for viewers without the extension."""
    lines = [f"**{payload['title']}** — {payload['status']}, step {payload['step']}", ""]

    def visit(nodes: list[dict[str, Any]], depth: int) -> None:
        for n in nodes:
            lines.append(f"{'  ' * depth}- `{n['position']}` {n['title']} — {n['status']}, {n['citations']} citations")
            visit(n["children"], depth + 1)

    visit(payload["nodes"], 0)
    return "\n".join(lines)


def report_notebook(s: RunState) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata[CELL_METADATA_KEY] = {"run_id": s.run_id, "query": s.query}
    for cell in report_cells(s):
        nb.cells.append(nbformat.v4.new_markdown_cell(cell["source"], metadata=cell["metadata"]))
    return nb


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def save_report(s: RunState, path: str | Path) -> Path:
    """Write the report as ``.md`` or ``.ipynb`` (by suffix)."""
    path = Path(path)
    if path.suffix == ".ipynb":
        write_text_atomic(path, nbformat.writes(report_notebook(s)))
    else:
        write_text_atomic(path, report_markdown(s))
    return path
