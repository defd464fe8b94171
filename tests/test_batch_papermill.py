"""The papermill path: the batch template executed per question in a real kernel."""

import json
from pathlib import Path

import nbformat
import pytest

from jupyter_warp.batch import Question, run_lockstep, run_papermill
from jupyter_warp.config import WarpConfig
from jupyter_warp.corpus import build_index, open_index
from scripted import ScriptedBackend, good_script

QUESTION = "How do raise statements and exception chaining work?"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    docs = root / "docs"
    docs.mkdir()
    (docs / "raise.md").write_text("# The raise statement\n\nThe raise statement raises an exception. "
                                   "With from, it sets the cause of the new exception, chaining them.\n")
    (docs / "try.md").write_text("# The try statement\n\nThe try statement specifies exception handlers "
                                 "and cleanup code. The finally clause always runs.\n")
    (docs / "with.md").write_text("# The with statement\n\nThe with statement wraps a block with methods of "
                                  "a context manager, which clean up even when an exception is raised.\n")
    build_index([docs], root / "index", progress=False)
    return root / "index"


def test_papermill_and_lockstep_write_the_same_report(tmp_path, index):
    config = WarpConfig(index=str(index), max_extends=0, max_steps=12, first_k=4, k=3)
    lock = run_lockstep([Question("q1", QUESTION)], config, tmp_path / "lockstep",
                        backend=ScriptedBackend(good_script()), searcher=open_index(index))
    assert lock[0].status == "done"
    # Replay exactly the replies the lockstep run got, in a kernel, through the template.
    replay = tmp_path / "lockstep" / "q1" / "run" / "steps.jsonl"
    pm_config = config.replace(model=f"replay:{replay}")
    rows = run_papermill([Question("q1", QUESTION)], pm_config, tmp_path / "papermill", kernel_name="python3")
    assert rows[0].status == "done", rows[0].error
    a, b = tmp_path / "lockstep" / "q1", tmp_path / "papermill" / "q1"
    assert (a / "report.md").read_text() == (b / "report.md").read_text()
    cells_a = [c.source for c in nbformat.read(a / "report.ipynb", as_version=4).cells]
    cells_b = [c.source for c in nbformat.read(b / "report.ipynb", as_version=4).cells]
    assert cells_a == cells_b
    executed = nbformat.read(b / "executed.ipynb", as_version=4)
    outputs = json.dumps([c.get("outputs", []) for c in executed.cells])
    assert "application/vnd.jupyter-warp.cells+json" in outputs

    again = run_papermill([Question("q1", QUESTION)], pm_config, tmp_path / "papermill", kernel_name="python3")
    assert again[0].status == "skipped"


def test_failing_question_keeps_partial_notebook(tmp_path, index):
    config = WarpConfig(index=str(tmp_path / "no-index"), max_steps=3)
    rows = run_papermill([Question("bad", QUESTION), Question("bad2", "another")], config, tmp_path / "out",
                         kernel_name="python3", parallel=2)
    assert [r.status for r in rows] == ["failed", "failed"]
    assert "no index at" in rows[0].error
    assert Path(rows[0].output).is_file()
