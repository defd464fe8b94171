"""A real run in a real browser (issue 16): JupyterLab on loopback, Debian's Chromium, a live
kernel with a scripted model (fast, deterministic) over a real index, and the extension.

- ``%%warp --cells`` streams: while it runs, the cell's static outline and ticking progress
  line change and the runs panel shows the run running at a later and later step; at the end
  the cell holds the final tree and no widget, the report shows once (a one-line note, and
  the cells inserted below), and the panel says done.
- ``%%warp --step --cells``: Step shows a readable step panel; a rename reaches the static
  outline too; Delete asks first; Run goes to the end, the controller goes away, the report
  note is in the step cell, and Insert on that cell inserts the report (once).
- After a kernel restart the trees and the panel still show the truth; saved, the notebook
  reopened in a JupyterLab with no kernel at all shows the final trees, no widget view.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest
from labserver import SCREENSHOTS, run_lab
from nbformat.sign import NotebookNotary

from jupyter_warp.mime import OUTLINE_MIME

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "jupyter_warp" / "labextension"
RENAMED = "Renamed in the browser"
CURRENT = "window.jupyterapp.shell.currentWidget"
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
PROGRESS = ".jp-OutputArea-output > .warp-status-line"  # the cell's progress line (not the controller's status)

SETUP = """import time
from kernel_magics import warp_magics
from scripted import ScriptedBackend
from test_magics_support import question_script

class Slow(ScriptedBackend):  # test only: a scripted model that takes its time, like a real one
    def generate(self, requests):
        time.sleep(0.7)
        return super().generate(requests)

warp_magics().backend_factory = lambda spec: Slow(question_script())
%warp_index docs --index idx --quiet"""
STREAMED = "%%warp --cells --max-extends 0 --name streamed\nHow is an exception raised?"
STEPPED = "%%warp --step --cells --max-steps 20 --max-extends 0\nHow are exceptions raised and handled?"


def write_notebook(root: Path) -> None:
    docs = root / "docs"
    docs.mkdir()
    (docs / "errors.md").write_text("# Errors\n\nThe try statement handles an exception raised in its body.\n\n"
                                    "## Raising\n\nThe raise statement raises an exception; `from` chains it.\n")
    (docs / "loops.md").write_text("# Loops\n\nA for loop iterates; an exception stops it unless handled.\n")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(source) for source in ("%load_ext jupyter_warp", SETUP, STREAMED, STEPPED)]
    nbformat.write(nb, str(root / "warp.ipynb"))


@pytest.fixture
def warp_lab(tmp_path):
    """JupyterLab with a kernel that imports this checkout, and the extension built here."""
    if os.environ.get("WARP_UI_WITHOUT_EXTENSION") or not (BUILT / "package.json").is_file():
        pytest.skip("the jupyter-warp JupyterLab extension is not built (make, or pip install -e .)")
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    with run_lab(tmp_path, kernels=True, env_extra=env, prepare=write_notebook) as lab:
        yield lab


def shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / name, SCREENSHOTS / name)


def cell_index(page, source_start: str) -> int:
    return page.evaluate(f"(s) => {CURRENT}.content.model.sharedModel.cells"
                         ".findIndex(c => c.getSource().startsWith(s))", source_start)


def cell(page, source_start: str):
    return page.locator(".jp-Notebook .jp-Cell").nth(cell_index(page, source_start))


def run_cell(page, index: int, wait: bool = True, timeout: float = 60) -> None:
    """Select cell ``index`` and run it with Shift+Enter, like a user."""
    page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    if wait:
        wait_idle(page, index, timeout)


def wait_idle(page, index: int, timeout: float = 60) -> None:
    page.wait_for_function(f"(i) => {CURRENT}.content.widgets[i].model.executionCount !== null", arg=index,
                           timeout=timeout * 1000)
    page.wait_for_function(f"() => {CURRENT}.sessionContext.session?.kernel?.status === 'idle'", timeout=timeout * 1000)


def outline_of(page, index: int) -> dict | None:
    """The outline payload the cell's outputs carry now (the document model, as saved)."""
    return page.evaluate(f"""([i, mime]) => {{ const outs = {CURRENT}.content.model.sharedModel.cells[i].getOutputs();
        const o = outs.find(o => o.data && o.data[mime]); return o ? o.data[mime] : null; }}""", [index, OUTLINE_MIME])


def cells(page) -> list[dict]:
    return page.evaluate(f"""() => {CURRENT}.content.model.sharedModel.cells.map(
        c => ({{type: c.cell_type, warp: c.getMetadata('jupyter_warp') ?? null}}))""")


def panel_item(page, run_id: str):
    return page.locator(f'.jp-WarpRuns-item[data-run-id="{run_id}"]')


def wait_status(page, run_id: str, status: str) -> None:
    """The runs panel shows ``status`` for the run (it redraws shortly after outputs change)."""
    selector = f'.jp-WarpRuns-item[data-run-id="{run_id}"] .jp-WarpRuns-status'
    page.wait_for_function("([s, want]) => document.querySelector(s)?.textContent === want", arg=[selector, status],
                           timeout=10_000)


def check_final_cell(page, source: str) -> None:
    """A %%warp cell after its run: the final tree from the static output, no widget view."""
    warp = cell(page, source)
    assert warp.locator(".jp-WarpOutline").count() == 1
    assert warp.locator(".jp-WarpOutline-runStatus").inner_text() == "done"
    assert warp.locator(".warp-outline, .warp-controller, .jupyter-widgets").count() == 0
    assert "Loading widget" not in warp.inner_text() and "Error displaying widget" not in warp.inner_text()
    assert warp.locator(".jp-WarpOutline-node").count() == 3


def test_a_real_run_streamed_and_stepped_then_saved_and_reopened(warp_lab, page, tmp_path):
    started = time.monotonic()
    page.set_default_timeout(60_000)
    page.goto(warp_lab.doc_url("warp.ipynb"))
    page.wait_for_function("() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel"
                           "?.status === 'idle'")
    run_cell(page, 0)
    run_cell(page, 1)
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-warp:show-runs')")

    # Streaming: the panel follows the run while it goes on.
    run_cell(page, 2, wait=False)
    page.wait_for_function(f"([m]) => {CURRENT}.content.model.sharedModel.cells[2].getOutputs()"
                           ".some(o => o.data && o.data[m] && o.data[m].step >= 2)", arg=[OUTLINE_MIME])
    streamed_id = outline_of(page, 2)["run_id"]
    item = panel_item(page, streamed_id)
    item.wait_for()
    seen = set()
    progress = []
    while page.evaluate(f"() => {CURRENT}.sessionContext.session.kernel.status") == "busy":
        status, meta = item.evaluate("e => [e.querySelector('.jp-WarpRuns-status').textContent,"
                                     " e.querySelector('.jp-WarpRuns-meta').textContent]")
        if status == "running":
            seen.add(meta)
        progress += page.locator(".jp-Notebook .jp-Cell").nth(2).locator(PROGRESS).all_inner_texts()
        if len(seen) == 2:
            shot(page, tmp_path, "run_streaming.png")
        page.wait_for_timeout(150)
    assert len(seen) >= 2 and all(" · step " in meta for meta in seen), seen  # the step moved on while running
    assert any(text[:1] in SPINNER and " s · step " in text for text in progress), progress
    wait_idle(page, 2)
    wait_status(page, streamed_id, "done")
    assert item.locator(".jp-WarpRuns-meta").inner_text() == "step 8/140 · 3/3 sections"
    check_final_cell(page, STREAMED)
    streamed = cell(page, STREAMED)
    assert streamed.locator(PROGRESS).inner_text().startswith("done · step 8/140 · 3/3 sections written")
    # The report once: a note in the output, the cells below; its text is not in any output.
    note = streamed.locator(".jp-WarpReport")
    page.wait_for_function("() => document.querySelector('.jp-WarpReport')?.dataset.inserted === 'true'")
    assert note.inner_text() == "Report: 3 sections + References, inserted below · Insert again"
    body = "A section body long enough to pass the checks"
    assert page.locator(f".jp-OutputArea :text('{body}'):visible").count() == 0
    assert page.locator(".jp-Notebook .jp-MarkdownCell").count() == 4
    assert "sent" not in streamed.inner_text() and "inserted below this cell" not in streamed.inner_text()

    # Step-through: Step, a readable panel, a rename, Delete asks, then Run to the end.
    step_at = cell_index(page, STEPPED)
    run_cell(page, step_at)
    stepped = cell(page, STEPPED)
    controller = stepped.locator(".warp-controller")
    controller.wait_for()
    assert "Step or Run above" in stepped.locator(PROGRESS).inner_text()
    step = controller.locator("button", has_text="Step")
    step.click()
    page.wait_for_function("() => document.querySelector('.warp-step-head')?.textContent.includes('step 1')")
    assert controller.locator(".warp-step-action").inner_text() == "searched for: exception · try statement"
    step.click()
    page.wait_for_function("() => document.querySelectorAll('.warp-controller li.warp-node').length === 3")
    assert controller.locator(".warp-step-action").inner_text().startswith("planned “Report” in 3 sections")
    assert "Step or Run above" not in stepped.locator(PROGRESS).inner_text()
    controller.locator(".warp-step-passages summary").first.click()
    controller.locator(".warp-step-passages li summary").nth(1).click()  # a passage's text, rendered
    shot(page, tmp_path, "step_panel.png")
    tree = controller.locator(".warp-outline")
    tree.locator("li.warp-node[data-position='section-1'] > .warp-node-row").click()
    tree.locator(".warp-edit-title").fill(RENAMED)
    tree.locator(".warp-edit-title").press("Enter")
    static_title = stepped.locator(".jp-WarpOutline [data-position='section-1'] .jp-WarpOutline-title")
    page.wait_for_function("(t) => document.querySelectorAll('.jp-WarpOutline [data-position=\"section-1\"] "
                           ".jp-WarpOutline-title')[1]?.textContent === t", arg=RENAMED)
    assert static_title.inner_text() == RENAMED  # the static outline follows the edit
    tree.locator("li.warp-node[data-position='section-3'] > .warp-node-row").click()
    tree.locator("button.warp-delete").click()
    assert tree.locator(".warp-confirm-text").inner_text() == "Delete 3 Part 3? This cannot be undone."
    tree.locator(".warp-confirm button", has_text="Cancel").click()
    assert tree.locator(".warp-confirm").count() == 0 and tree.locator("li.warp-node").count() == 3

    controller.locator("button", has_text="Run").click()
    page.wait_for_function("() => document.querySelectorAll('.jp-WarpOutline-runStatus')[1]?.textContent === 'done'")
    page.wait_for_function("() => document.querySelectorAll('.warp-controller').length === 0")
    check_final_cell(page, STEPPED)
    stepped_id = outline_of(page, cell_index(page, STEPPED))["run_id"]
    assert stepped.locator(".jp-WarpOutline-title").first.inner_text() == RENAMED
    page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-MarkdownCell').length === 8")
    assert stepped.locator(".jp-WarpReport").inner_text() == (
        "Report: 3 sections + References, inserted below · Insert again")
    assert stepped.locator(PROGRESS).inner_text().startswith("done · step 8/20 · 3/3 sections written")
    assert "))" not in stepped.locator(PROGRESS).inner_text()
    wait_status(page, stepped_id, "done")

    # Insert on the --step --cells cell: the report goes below it, once.
    step_at = cell_index(page, STEPPED)
    page.evaluate(f"(i) => {CURRENT}.content.model.sharedModel.deleteCellRange(i + 1, i + 5)", step_at)
    assert page.locator(".jp-Notebook .jp-MarkdownCell").count() == 4
    page.evaluate(f"(i) => {{ {CURRENT}.content.activeCellIndex = i; }}", step_at)
    inserted = page.evaluate("() => window.jupyterapp.commands.execute('jupyter-warp:insert-report-cells')")
    assert inserted == {"count": 4, "run_id": stepped_id}
    positions = [c["warp"]["position"] for c in cells(page)[step_at + 1:step_at + 5]]
    assert positions == ["section-1", "section-2", "section-3", "references"]
    again = page.evaluate("() => window.jupyterapp.commands.execute('jupyter-warp:insert-report-cells')")
    assert again["count"] == 0

    # A kernel restart changes nothing shown: the outputs are static, the runs are done.
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.evaluate(f"() => {CURRENT}.sessionContext.session.kernel.restart()")
    page.wait_for_function(f"() => {CURRENT}.sessionContext.session?.kernel?.status === 'idle'")
    page.wait_for_timeout(1000)
    for source in (STREAMED, STEPPED):
        check_final_cell(page, source)
    for run_id in (streamed_id, stepped_id):
        wait_status(page, run_id, "done")
    shot(page, tmp_path, "after_restart.png")
    page.wait_for_function(f"() => !{CURRENT}.context.model.dirty")
    saved = nbformat.read(str(warp_lab.root / "warp.ipynb"), as_version=4)
    assert time.monotonic() - started < 240

    # Reopened where no kernel can start, trusted (signed by that JupyterLab's own notary).
    (tmp_path / "reopen").mkdir()
    with run_lab(tmp_path / "reopen", kernels=False, prepare=lambda root: reopen_files(root, saved, warp_lab.root,
                                                                                        tmp_path / "reopen")) as lab:
        page.goto(lab.doc_url("warp.ipynb"))
        page.locator(".jp-WarpOutline-runStatus").nth(1).wait_for(timeout=60_000)
        dismiss_kernel_dialog(page)
        assert page.evaluate(f"() => {CURRENT}.sessionContext.session?.kernel ?? null") is None
        assert page.evaluate(f"(i) => {CURRENT}.content.widgets[i].model.trusted", cell_index(page, STREAMED))
        for source in (STREAMED, STEPPED):
            check_final_cell(page, source)
        assert cell(page, STEPPED).locator(".jp-WarpOutline-title").first.inner_text() == RENAMED
        page.evaluate("() => window.jupyterapp.commands.execute('jupyter-warp:show-runs')")
        wait_status(page, stepped_id, "done")
        cell(page, STEPPED).scroll_into_view_if_needed()
        shot(page, tmp_path, "reopened_saved.png")


def reopen_files(root: Path, saved: nbformat.NotebookNode, first_root: Path, base: Path) -> None:
    shutil.copytree(first_root / "docs", root / "docs")
    (base / "jupyter" / "data").mkdir(parents=True, exist_ok=True)
    NotebookNotary(data_dir=str(base / "jupyter" / "data")).sign(saved)
    nbformat.write(saved, str(root / "warp.ipynb"))


def dismiss_kernel_dialog(page) -> None:
    """No kernelspec exists there, so JupyterLab may ask for one: answer "no kernel"."""
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(state="visible", timeout=3000)
        dialog.locator(".jp-mod-reject").first.click()
        dialog.wait_for(state="detached", timeout=5000)
    except Exception:
        pass
