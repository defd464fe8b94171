"""Saved notebooks as the notebook layer leaves them (issue 16), built here so the browser
tests check the extension's renderers without a kernel:

- a ``%%warp --cells`` cell whose outputs end as the static outline (``OUTLINE_MIME`` with
  HTML, Markdown and text fallbacks, no widget view) and the report output (``CELLS_MIME``),
  followed by the report's Markdown cells (3 sections + References) with links to the files;
- a later cell that displayed the same run's controller at an earlier step;
- a ``%%warp --step`` run left paused (its kernel is gone when the notebook is reopened).
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat
from nbformat.sign import NotebookNotary

from jupyter_warp.mime import CELL_METADATA_KEY, CELLS_MIME, OUTLINE_MIME

RUN_ID = "20261125-0205-ab12"
STEP_RUN_ID = "20261125-0300-cd34"
TITLE = "Local models for report writing"
QUESTION = "How do local models write long reports?"
SECTIONS = [
    ("section-1", "Background", "WARP alternates drafting and deepening [1]."),
    ("section-2", "Method", "Search, then write with citations [2]."),
    ("section-3", "Failure modes", "Small models repeat themselves [1][2]."),
]
SUBSECTIONS = [("section-2.1", "Drafting", "Each section cites the passages it used [2]."),
               ("section-2.2", "Deepening", "A written leaf is split when it needs depth [1].")]  # fmt: skip
# What the References cell holds: a link to the file (relative to the notebook), page and heading.
REFERENCES = (
    "## References\n\n"
    "[1] WARP notes — [docs/warp notes.md](docs/warp%20notes.md#Drafting-and-deepening), § Drafting and deepening\n\n"
    "[2] A paper — [papers/paper.pdf](papers/paper.pdf#page=2), p. 2\n"
)


def node(position: str, title: str, text: str, status: str = "written", citations: int = 1, children=()) -> dict:
    return {"position": position, "title": title, "plan": f"Plan of {title}.", "text": text,
            "status": status, "citations": citations, "children": list(children)}  # fmt: skip


def outline(run_id: str = RUN_ID, step: int = 12, status: str = "done", state: str = "done", **extra) -> dict:
    (p1, t1, x1), (p2, t2, x2), (p3, t3, x3) = SECTIONS
    subs = [node(p, t, x) for p, t, x in SUBSECTIONS]
    payload = {
        "version": 1, "run_id": run_id, "title": TITLE, "query": QUESTION, "status": status, "state": state,
        "step": step, "max_steps": 40, "cursor": None,
        "counts": {"searches": 4, "extends": 1, "tokens_in": 1234, "tokens_out": 567},
        "nodes": [node(p1, t1, x1, citations=1), node(p2, t2, x2, "extended", 1, subs),
                  node(p3, t3, x3, citations=2)],
    }  # fmt: skip
    payload.update(extra)
    return payload


def outline_bundle(payload: dict) -> dict:
    """The static outline output: the extension's JSON and fallbacks for other viewers."""
    text = f"{payload['title']} — {payload['status']} · step {payload['step']}"
    return {OUTLINE_MIME: payload, "text/html": f"<p>{html.escape(text)}</p>", "text/markdown": text,
            "text/plain": text}  # fmt: skip


def report_cells() -> list[dict]:
    cells = []
    for i, (position, title, text) in enumerate(SECTIONS):
        head = f"# {TITLE}\n\n" if i == 0 else ""
        cells.append({"cell_type": "markdown", "source": f"{head}## {i + 1} {title}\n\n{text}\n",
                      "metadata": {CELL_METADATA_KEY: {"run_id": RUN_ID, "position": position}}})  # fmt: skip
    cells.append({"cell_type": "markdown", "source": REFERENCES,
                  "metadata": {CELL_METADATA_KEY: {"run_id": RUN_ID, "position": "references"}}})  # fmt: skip
    return cells


def report_markdown() -> str:
    return "\n".join(cell["source"] for cell in report_cells())


def write_corpus(root: Path) -> None:
    """The files the References cell links to."""
    from pypdf import PdfWriter

    (root / "docs").mkdir()
    (root / "docs" / "warp notes.md").write_text(
        "# WARP notes\n\n" + "Intro.\n\n" * 80 + "## Drafting and deepening\n\nThe loop alternates.\n"
    )
    (root / "papers").mkdir()
    writer = PdfWriter()
    writer.add_blank_page(width=300, height=400)
    writer.add_blank_page(width=300, height=400)
    with (root / "papers" / "paper.pdf").open("wb") as out:
        writer.write(out)


def write_saved_notebook(root: Path, data_dir: Path, name: str = "saved.ipynb") -> Path:
    """The notebook a user keeps, signed (trusted) with the lab's own notary."""
    write_corpus(root)
    v4 = nbformat.v4
    run = v4.new_code_cell(f"%%warp --cells --max-steps 40\n{QUESTION}", execution_count=2)
    run.outputs = [
        v4.new_output("display_data", data=outline_bundle(outline())),
        v4.new_output("display_data", data={CELLS_MIME: {"version": 1, "run_id": RUN_ID, "title": TITLE,
                                                         "cells": report_cells()},
                                            "text/markdown": report_markdown(), "text/plain": report_markdown()}),
    ]  # fmt: skip
    inserted = [v4.new_markdown_cell(c["source"], metadata=c["metadata"]) for c in report_cells()]
    again = v4.new_code_cell("warp.controller", execution_count=3)
    again.outputs = [v4.new_output("display_data", data=outline_bundle(
        outline(step=5, status="paused", state="write", cursor="section-3")))]  # fmt: skip
    step = v4.new_code_cell("%%warp --step\nWhy do small models ramble?", execution_count=4)
    step.outputs = [v4.new_output("display_data", data=outline_bundle(
        outline(STEP_RUN_ID, step=3, status="paused", state="write", cursor="section-2",
                title="Why small models ramble")))]  # fmt: skip
    nb = v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [v4.new_code_cell("%load_ext jupyter_warp", execution_count=1), run, *inserted, again, step,
                v4.new_markdown_cell("End of the notebook.")]  # fmt: skip
    nbformat.validate(nb)
    data_dir.mkdir(parents=True, exist_ok=True)
    NotebookNotary(data_dir=str(data_dir)).sign(nb)
    path = root / name
    nbformat.write(nb, path)
    return path
