"""The shipped notebooks, executed headless with nbclient on a real kernel.

Without the ``model`` mark a cell injected after ``%load_ext`` swaps in a scripted model
(the corpus and index are real); with it, the notebooks run as shipped, on the embedded
model.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_warp.mime import CELL_METADATA_KEY, CELLS_MIME, OUTLINE_MIME
from kernel_magics import expand_report_cells

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

SCRIPTED = """# Test only: a scripted model instead of the embedded one.
from kernel_magics import warp_magics
from scripted import ScriptedBackend
from test_magics_support import question_script
warp_magics().backend_factory = lambda spec: ScriptedBackend(question_script())"""


@pytest.fixture
def kernel_env(monkeypatch):
    """The kernel (``python`` on PATH) is this environment's, and imports this checkout."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    paths = [str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))


def execute(name: str, cwd: Path, scripted: bool, timeout: int = 240) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    if scripted:
        at = next(i for i, c in enumerate(nb.cells) if c.source.strip() == "%load_ext jupyter_warp") + 1
        nb.cells.insert(at, nbformat.v4.new_code_cell(SCRIPTED))
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    nbformat.write(nb, str(cwd / f"executed-{name}"))
    return nb


def outputs_with(nb, mime: str, marker: str) -> list:
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(marker)]
    assert cells, marker
    return [o for o in cells[0].outputs if mime in o.get("data", {})]


def text_of(nb, marker: str) -> str:
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(marker))
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def check_warp_cells(nb) -> list[dict]:
    """Every ``%%warp`` cell ends as the static outline, with no widget view beside it (so a
    saved notebook shows the final tree, trusted or not, with or without a kernel); returns
    each cell's final outline."""
    finals = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.source.startswith("%%warp"):
            continue
        assert not [o for o in cell.outputs if WIDGET_MIME in o.get("data", {})], cell.source
        outlines = [o["data"] for o in cell.outputs if OUTLINE_MIME in o.get("data", {})]
        assert len(outlines) == 1, cell.source
        assert "text/html" in outlines[0] and "text/markdown" in outlines[0] and "text/plain" in outlines[0]
        finals.append(outlines[0][OUTLINE_MIME])
    assert finals
    return finals


def check_quickstart(nb, cwd: Path) -> None:
    assert "files" in text_of(nb, "from jupyter_warp.corpus.samples")
    assert "added" in text_of(nb, "%warp_index")
    [tree] = check_warp_cells(nb)
    # nbclient applied the display updates: the saved output is the finished outline.
    assert tree["status"] in ("done", "failed") and tree["nodes"]
    [report] = outputs_with(nb, CELLS_MIME, "%%warp")
    payload = report["data"][CELLS_MIME]
    assert payload["cells"][-1]["metadata"][CELL_METADATA_KEY]["position"] == "references"
    assert (cwd / "warp_demo" / "quickstart_report.ipynb").is_file()
    before = len(nb.cells)
    expand_report_cells(nb)
    assert len(nb.cells) == before + len(payload["cells"])
    nbformat.validate(nb)


def check_step_through(nb, renamed: bool) -> None:
    # The run was stepped from later cells; the %%warp --step cell followed it to the end.
    [outline] = check_warp_cells(nb)
    assert outline["status"] in ("done", "failed") and outline["nodes"] and outline["step"] > 2
    [report] = outputs_with(nb, CELLS_MIME, "%%warp --step")
    assert report["data"][CELLS_MIME]["run_id"] == outline["run_id"]
    [final] = outputs_with(nb, OUTLINE_MIME, "warp")
    assert final["data"][OUTLINE_MIME] == outline and WIDGET_MIME not in final["data"]
    if renamed:
        titles = [n["title"] for n in outline["nodes"]]
        assert titles[0] == "How try statements catch exceptions" and "Cleaning up with finally and with" in titles
        assert all(n["status"] == "written" for n in outline["nodes"])


def test_quickstart_runs_headless(tmp_path, kernel_env):
    nb = execute("quickstart.ipynb", tmp_path, scripted=True)
    check_quickstart(nb, tmp_path)
    assert "done: 8 steps" in text_of(nb, "print(warp.snapshot.summary)")


def test_step_through_runs_headless(tmp_path, kernel_env):
    nb = execute("step_through.ipynb", tmp_path, scripted=True)
    check_step_through(nb, renamed=True)
    assert "search" in text_of(nb, "c = warp.controller")


def _embedded_model_available() -> bool:
    try:
        from jupyter_warp.llm import get_backend  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.model
@pytest.mark.skipif(not _embedded_model_available(), reason="jupyter_warp.llm.get_backend is not there yet")
def test_quickstart_on_the_embedded_model(tmp_path, kernel_env):
    nb = execute("quickstart.ipynb", tmp_path, scripted=False, timeout=600)
    check_quickstart(nb, tmp_path)


@pytest.mark.model
@pytest.mark.skipif(not _embedded_model_available(), reason="jupyter_warp.llm.get_backend is not there yet")
def test_step_through_on_the_embedded_model(tmp_path, kernel_env):
    nb = execute("step_through.ipynb", tmp_path, scripted=False, timeout=600)
    check_step_through(nb, renamed=False)
