"""The extension in a real JupyterLab: a saved notebook, opened with no kernel, shows the
run's outline, and "Insert WARP report as cells" turns its report into N+1 Markdown cells."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from jupyter_warp.mime import CELL_METADATA_KEY, CELLS_MIME, INSERT_COMMAND, INSERT_COMMAND_LABEL, OUTLINE_MIME

pytestmark = pytest.mark.browser

RUN_ID = "20261125-0205-ab12"
NODES = [
    ("section-1", "Background", "written", 3),
    ("section-2", "Method", "extended", 1),
    ("section-2.1", "Drafting <script>window.__warp_pwned = 1</script>", "drafting", 0),
    ("section-2.2", "Deepening", "planned", 0),
    ("section-3", "Failure modes", "failed", 0),
]
SECTIONS = ["## 1 Background\nWARP alternates drafting and deepening [1].",
            "## 2 Method\nSearch, write, deepen [2].",
            "## 3 Failure modes\nSmall models ramble [3]."]  # fmt: skip
REFERENCES = "## References\n[1] a.txt\n[2] b.md\n[3] c.pdf"


def node(position: str, title: str, status: str, citations: int, children=()) -> dict:
    return {"position": position, "title": title, "plan": f"plan of {title}", "text": f"text of {title}",
            "status": status, "citations": citations, "children": list(children)}  # fmt: skip


def outline() -> dict:
    (p1, t1, s1, c1), (p2, t2, s2, c2), sub1, sub2, (p3, t3, s3, c3) = NODES
    return {
        "version": 1, "run_id": RUN_ID, "title": "Local models for report writing",
        "query": "How do local models write long reports?", "status": "done", "state": "done",
        "step": 12, "cursor": None, "counts": {"searches": 4, "extends": 1, "tokens_in": 1234, "tokens_out": 567},
        "nodes": [node(p1, t1, s1, c1), node(p2, t2, s2, c2, [node(*sub1), node(*sub2)]), node(p3, t3, s3, c3)],
    }  # fmt: skip


def cells_payload() -> dict:
    positions = ["section-1", "section-2", "section-3", "references"]
    cells = [
        {"cell_type": "markdown", "source": source,
         "metadata": {CELL_METADATA_KEY: {"run_id": RUN_ID, "position": position}}}
        for source, position in zip([*SECTIONS, REFERENCES], positions, strict=True)
    ]  # fmt: skip
    return {"version": 1, "run_id": RUN_ID, "title": "Local models for report writing", "cells": cells}


def write_notebook(path: Path) -> None:
    """What `%%warp --cells` leaves in a saved notebook: an outline and a report output."""
    nb = nbformat.v4.new_notebook()
    run = nbformat.v4.new_code_cell('%%warp --cells\nHow do local models write long reports?', execution_count=1)
    run.outputs = [
        nbformat.v4.new_output("display_data", data={OUTLINE_MIME: outline(), "text/markdown": "**outline**"}),
        nbformat.v4.new_output("display_data", data={CELLS_MIME: cells_payload(), "text/markdown": "# report"}),
    ]
    nb.cells = [run, nbformat.v4.new_markdown_cell("End of the notebook.")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.validate(nb)
    nbformat.write(nb, path)


def dismiss_kernel_dialog(page) -> None:
    """No kernelspec exists, so JupyterLab may ask for one: answer 'no kernel'."""
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(state="visible", timeout=3000)
    except Exception:  # no dialog: nothing to dismiss
        return
    dialog.locator(".jp-mod-reject").first.click()
    dialog.wait_for(state="detached", timeout=5000)


def notebook_cells(page) -> list[dict]:
    return page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells.map(
               c => ({type: c.cell_type, source: c.getSource(), warp: c.getMetadata('jupyter_warp') ?? null}))"""
    )


def test_outline_renders_without_kernel_and_report_inserts_as_cells(page, lab, screenshot):
    write_notebook(lab.root / "report.ipynb")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and "jupyter-warp" in msg.text and errors.append(msg.text))

    page.goto(lab.doc_url("report.ipynb"))
    tree = page.locator(".jp-WarpOutline")
    tree.locator('[data-position="section-3"]').wait_for(state="attached", timeout=60_000)
    dismiss_kernel_dialog(page)

    # The outline, from the saved output alone.
    assert page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel ?? null") is None
    header = tree.locator(".jp-WarpOutline-header")
    assert header.locator(".jp-WarpOutline-runTitle").inner_text() == "Local models for report writing"
    assert header.locator(".jp-WarpOutline-runStatus").inner_text() == "done"
    assert "step 12" in header.inner_text()
    for position, title, status, citations in NODES:
        summary = tree.locator(f'[data-position="{position}"] > details > summary')
        assert summary.locator(".jp-WarpOutline-title").text_content() == title
        assert summary.locator(".jp-WarpOutline-badge").text_content() == status
        assert summary.locator(".jp-WarpOutline-citations").get_attribute("data-count") == str(citations)
    assert page.evaluate("() => window.__warp_pwned ?? null") is None
    assert tree.locator("script").count() == 0

    # The settings schema puts the command in the Edit menu.
    page.locator(".lm-MenuBar-item", has_text="Edit").click()
    assert page.locator(".lm-Menu-item", has_text=INSERT_COMMAND_LABEL).count() == 1
    page.keyboard.press("Escape")

    # The palette command inserts the report below its cell: 3 sections + References.
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("Insert WARP report")
    page.locator(".lm-CommandPalette-item", has_text=INSERT_COMMAND_LABEL).click()
    markdown = page.locator(".jp-Notebook .jp-MarkdownCell")
    page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-MarkdownCell').length === 5")

    cells = notebook_cells(page)
    assert [c["type"] for c in cells] == ["code"] + ["markdown"] * 5
    assert [c["source"] for c in cells[1:5]] == [*SECTIONS, REFERENCES]
    assert [c["warp"]["position"] for c in cells[1:5]] == ["section-1", "section-2", "section-3", "references"]
    assert {c["warp"]["run_id"] for c in cells[1:5]} == {RUN_ID}
    assert cells[5] == {"type": "markdown", "source": "End of the notebook.", "warp": None}
    rendered = [markdown.nth(i).inner_text() for i in range(4)]
    assert [text.splitlines()[0] for text in rendered] == ["1 Background", "2 Method", "3 Failure modes", "References"]

    # Idempotent per run id: running it again inserts nothing.
    again = page.evaluate(f"() => window.jupyterapp.commands.execute('{INSERT_COMMAND}')")
    assert again == {"count": 0, "run_id": RUN_ID}
    assert markdown.count() == 5

    # The side panel lists the run and jumps to its cell.
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-warp:show-runs')")
    run = page.locator(f'.jp-WarpRuns-item[data-run-id="{RUN_ID}"]')
    run.wait_for(timeout=10_000)
    assert run.locator(".jp-WarpRuns-title").inner_text() == "Local models for report writing"
    assert run.locator(".jp-WarpRuns-status").inner_text() == "done"
    assert run.locator(".jp-WarpRuns-meta").inner_text() == "step 12 · 2/5 sections"
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 5; }")
    run.click()
    assert page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex") == 0

    shot = screenshot(page, "outline_browser.png")
    assert shot.stat().st_size > 10_000
    assert not errors, errors
