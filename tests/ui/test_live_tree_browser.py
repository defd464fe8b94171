"""The live tree (``kernel_magics/static/outline.js``) as a real anywidget on a real kernel, in
JupyterLab and Chromium, without the notebook layer's Python (a plain ``AnyWidget`` with the
same traits), so it tests the front end alone:

- the editor: Delete asks first and sends nothing until confirmed, Enter submits a rename, an
  empty "Add section" says why, every control is disabled once the run is over;
- the runs panel follows the live tree as the kernel changes the outline (a streaming run
  whose saved output does not change), then shows the end;
- dark theme: the selected row and the badges keep WCAG AA contrast.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest
from contrast import AA, below_aa, contrasts, set_theme
from labserver import run_lab

from notebooks import outline

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CURRENT = "window.jupyterapp?.shell.currentWidget"
RUN_ID = "live-run-1"

DEFINE = f"""
import anywidget, traitlets, pathlib
STATIC = pathlib.Path({str(ROOT / "kernel_magics" / "static")!r})

class Tree(anywidget.AnyWidget):
    _esm = STATIC / "outline.js"
    _css = STATIC / "outline.css"
    outline = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    editable = traitlets.Bool(True).tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

edits = []
tree = Tree(outline={json.dumps(outline(RUN_ID, step=4, status="running", state="write", cursor="section-3"))})
tree.on_msg(lambda widget, content, buffers: edits.append(content))
"""


def write_notebook(root: Path) -> None:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})  # fmt: skip
    nb.cells = [nbformat.v4.new_code_cell(DEFINE), nbformat.v4.new_code_cell("tree")]
    nbformat.write(nb, root / "live.ipynb")


@pytest.fixture
def live_lab(tmp_path: Path):
    env = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    with run_lab(tmp_path, kernels=True, env_extra=env, prepare=write_notebook) as lab:
        yield lab


def kernel(page, code: str) -> str:
    """Run ``code`` on the notebook's kernel, return what it printed."""
    return page.evaluate(
        """async (code) => {
             const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
             const future = kernel.requestExecute({code});
             let out = '';
             future.onIOPub = msg => { if (msg.header.msg_type === 'stream') { out += msg.content.text; } };
             await future.done;
             return out;
           }""",
        code,
    )


def edits(page) -> list[dict]:
    return json.loads(kernel(page, "import json; print(json.dumps(edits))"))


def test_live_tree_editor_runs_panel_and_dark_theme(page, live_lab, screenshot):
    page.set_default_timeout(60_000)
    page.goto(live_lab.doc_url("live.ipynb"))
    page.wait_for_function(f"() => {CURRENT}?.sessionContext?.session?.kernel?.status === 'idle'")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    tree = page.locator(".warp-outline")
    tree.wait_for()
    assert tree.locator(".warp-outline-meta").inner_text() == (
        "drafting 3 · step 4/40 · 5/5 sections written · 4 searches · 1 extend · tokens 1.2k/567")

    # The runs panel follows the live tree (the cell's saved output carries no outline).
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-warp:show-runs')")
    run = page.locator(f'.jp-WarpRuns-item[data-run-id="{RUN_ID}"]')
    run.wait_for()
    assert run.locator(".jp-WarpRuns-meta").inner_text() == "drafting 3 · step 4/40 · 5/5 sections"
    kernel(page, "tree.outline = {**tree.outline, 'step': 9, 'cursor': 'section-2.2'}")
    page.wait_for_function(
        f"""() => document.querySelector('.jp-WarpRuns-item[data-run-id="{RUN_ID}"] .jp-WarpRuns-meta')
                  ?.textContent === 'drafting 2.2 · step 9/40 · 5/5 sections'""")

    # Select a section: the editor, in JupyterLab's own controls.
    tree.locator('li[data-position="section-2"] > .warp-node-row').click()
    editor = tree.locator(".warp-editor")
    editor.wait_for()
    assert editor.locator("button.jp-mod-styled").count() == 5  # Rename, Re-plan, Lock, Delete, Add subsection

    # Delete asks; Cancel keeps; only a confirmed delete reaches the kernel.
    editor.locator("button.warp-delete").click()
    confirm = tree.locator(".warp-confirm")
    assert confirm.locator(".warp-confirm-text").inner_text() == (
        "Delete 2 Method and its 2 subsections? This cannot be undone.")
    confirm.locator("button", has_text="Cancel").click()
    assert tree.locator(".warp-confirm").count() == 0
    assert edits(page) == []
    editor.locator("button.warp-delete").click()
    tree.locator(".warp-confirm button", has_text="Delete").click()
    deadline = time.monotonic() + 10
    while not edits(page) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert edits(page) == [{"event": "edit", "op": "delete", "position": "section-2"}]

    # Enter submits a rename; an empty Add section says why and sends nothing.
    title = tree.locator(".warp-edit-title")
    title.fill("Method, renamed")
    title.press("Enter")
    tree.locator(".warp-add-section-title").fill("  ")
    tree.locator(".warp-add-section-title").press("Enter")
    assert tree.locator(".warp-outline-message").inner_text() == (
        "Type a title for the new section, then Add section.")
    page.wait_for_timeout(500)
    assert edits(page)[1:] == [{"event": "edit", "op": "rename", "position": "section-2", "title": "Method, renamed"}]
    screenshot(page, "live_tree_light.png")

    # Dark theme: the selected row and every badge keep AA contrast, badges on one line.
    set_theme(page, "JupyterLab Dark")
    for what, selector in {"selected row": ".warp-selected > span", "badges": ".warp-badge, .jp-WarpRuns-status",
                           "buttons": ".warp-editor button"}.items():  # fmt: skip
        rows = contrasts(page, selector)
        assert rows and not below_aa(rows), f"{what} below {AA}:1: {below_aa(rows) or 'nothing matched'}"
        if what == "badges":
            assert all(row["oneLine"] for row in rows), rows
    screenshot(page, "live_tree_dark.png")

    # The run ends: every edit control is disabled, and the panel says done.
    kernel(page, "tree.outline = {**tree.outline, 'status': 'done', 'state': 'done', 'step': 12}; "
                 "tree.editable = False")
    page.wait_for_function("() => [...document.querySelectorAll('.warp-editor button')].every(b => b.disabled)")
    assert tree.locator(".warp-read-only").inner_text() == "The run is over: the outline can no longer be edited."
    page.wait_for_function(
        f"""() => document.querySelector('.jp-WarpRuns-item[data-run-id="{RUN_ID}"] .jp-WarpRuns-status')
                  ?.textContent === 'done'""")
    assert run.locator(".jp-WarpRuns-meta").inner_text() == "step 12/40 · 5/5 sections"
    screenshot(page, "live_tree_dark_done.png")
