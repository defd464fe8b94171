"""The kernel's way in, for real: a kernel opens the ``jupyter-warp`` comm, shows a report
and sends ``insert-cells``; the extension inserts N+1 cells below that cell and answers."""

from __future__ import annotations

import json
import time

import nbformat
import pytest

from jupyter_warp.mime import CELL_METADATA_KEY, CELLS_MIME, COMM_TARGET, FORMAT_VERSION, OUTLINE_MIME

pytestmark = pytest.mark.browser

RUN_ID = "comm-run-1"
SOURCES = ["## 1 One\nFirst [1].", "## 2 Two\nSecond [2].", "## References\n[1] a.txt\n[2] b.txt"]
PAYLOAD = {
    "version": 1, "run_id": RUN_ID, "title": "Over the comm",
    "cells": [{"cell_type": "markdown", "source": source,
               "metadata": {CELL_METADATA_KEY: {"run_id": RUN_ID, "position": position}}}
              for source, position in zip(SOURCES, ["section-1", "section-2", "references"], strict=True)],
}  # fmt: skip
OUTLINE = {
    "version": 1, "run_id": RUN_ID, "title": "Over the comm", "query": "q", "status": "done", "state": "done",
    "step": 7, "cursor": None, "counts": {},
    "nodes": [{"position": "section-1", "title": "One", "status": "written", "citations": 1, "children": []}],
}  # fmt: skip

# What kernel_magics does, without depending on it: greet, show the report, ask to insert it.
OPEN = f"""
from comm import create_comm
from IPython.display import display
replies = []
link = create_comm(target_name={COMM_TARGET!r}, data={{"action": "hello", "version": {FORMAT_VERSION}}})
link.on_msg(lambda msg: replies.append(msg["content"]["data"]))
"""
SHOW = f"""
payload = {PAYLOAD!r}
display({{{OUTLINE_MIME!r}: {OUTLINE!r}, "text/markdown": "outline"}}, raw=True)
display({{{CELLS_MIME!r}: payload, "text/markdown": "# report"}}, raw=True)
link.send({{"action": "insert-cells", "payload": payload}})
"""

READ_REPLIES = """async () => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code: 'import json; print(json.dumps(replies))'});
  let out = '';
  future.onIOPub = msg => { if (msg.header.msg_type === 'stream') { out += msg.content.text; } };
  await future.done;
  return out;
}"""


def replies(page, count: int, timeout: float = 20) -> list[dict]:
    """The kernel's ``replies`` once it holds ``count`` messages (they arrive between cells)."""
    deadline = time.monotonic() + timeout
    while True:
        got = json.loads(page.evaluate(READ_REPLIES))
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def test_kernel_inserts_report_cells_over_the_comm(page, lab_with_kernel, screenshot):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(OPEN), nbformat.v4.new_code_cell(SHOW)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab_with_kernel.root / "comm.ipynb")

    page.goto(lab_with_kernel.doc_url("comm.ipynb"))
    page.wait_for_function(
        "() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
        timeout=60_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-MarkdownCell').length === 3")

    cells = page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells.map(
               c => ({type: c.cell_type, source: c.getSource(), warp: c.getMetadata('jupyter_warp') ?? null}))"""
    )
    assert [c["type"] for c in cells] == ["code", "code", "markdown", "markdown", "markdown"]
    assert [c["source"] for c in cells[2:]] == SOURCES
    assert [c["warp"]["position"] for c in cells[2:]] == ["section-1", "section-2", "references"]
    # The outline rendered live, and the runs panel picked the run up from the new output.
    assert page.locator('.jp-WarpOutline [data-position="section-1"] .jp-WarpOutline-title').inner_text() == "One"
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-warp:show-runs')")
    run = page.locator(f'.jp-WarpRuns-item[data-run-id="{RUN_ID}"]')
    run.wait_for(timeout=10_000)
    assert run.locator(".jp-WarpRuns-status").inner_text() == "done"
    assert run.locator(".jp-WarpRuns-meta").inner_text() == "step 7 · 1/1 section"
    assert replies(page, 2) == [
        {"action": "hello-ack", "version": FORMAT_VERSION},
        {"action": "inserted", "run_id": RUN_ID, "count": 3},
    ]

    # Sent again (a re-run), nothing is duplicated and the kernel hears count 0.
    page.evaluate(
        """async () => {
             const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
             await kernel.requestExecute({code: 'link.send({"action": "insert-cells", "payload": payload})'}).done;
           }"""
    )
    assert replies(page, 3)[2] == {"action": "inserted", "run_id": RUN_ID, "count": 0}
    assert page.locator(".jp-Notebook .jp-MarkdownCell").count() == 3
    screenshot(page, "comm_browser.png")
