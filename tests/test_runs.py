"""Run state on disk: checkpoint after every step, resume without redoing a step."""

import json

import pytest

from jupyter_warp.config import WarpConfig
from jupyter_warp.errors import BackendUnavailableError, RunError
from jupyter_warp.records import Completion, Passage, Step
from jupyter_warp.runs import BackendPool, Run, RunHooks
from jupyter_warp.state import RunState
from scripted import MemorySearcher, ScriptedBackend, good_script

EXTEND = {"name": "extend-plan", "position": "section-1",
          "subsections": [{"title": "A", "plan": "a"}, {"title": "B", "plan": "b"}]}


class DiesAfter(ScriptedBackend):
    """Answers ``n`` calls, then behaves like a model server that went away."""

    def __init__(self, n):
        super().__init__(good_script(EXTEND))
        self.n = n

    def generate(self, requests):
        if self.calls >= self.n:
            raise BackendUnavailableError("model server at http://127.0.0.1:9 did not answer")
        return super().generate(requests)


def test_checkpoint_files_after_each_step(tmp_path):
    run = Run.create("q about alpha", WarpConfig(max_extends=1), run_dir=tmp_path / "r",
                     backend=ScriptedBackend(good_script(EXTEND)), searcher=MemorySearcher())
    for i in range(1, 4):
        run.step()
        state = json.loads((tmp_path / "r" / "state.json").read_text())
        lines = (tmp_path / "r" / "steps.jsonl").read_text().splitlines()
        assert state["step"] == i and len(lines) == i and json.loads(lines[-1])["index"] == i
    assert not list((tmp_path / "r").glob(".*.tmp"))


def test_resume_after_dead_server_redoes_nothing(tmp_path):
    run = Run.create("q about alpha", WarpConfig(max_extends=1), run_dir=tmp_path / "r",
                     backend=DiesAfter(5), searcher=MemorySearcher())
    with pytest.raises(BackendUnavailableError):
        run.run()
    assert run.state.step == 5
    report_before = run.report.to_dict()

    again = Run.resume(tmp_path / "r", backend=ScriptedBackend(good_script(EXTEND)), searcher=MemorySearcher())
    assert again.state.step == 5 and again.report.to_dict() == report_before
    again.run()
    assert again.state.status == "done"
    indices = [s.index for s in again.steps]
    assert indices == list(range(1, again.state.step + 1))
    logged = [json.loads(line)["index"] for line in (tmp_path / "r" / "steps.jsonl").read_text().splitlines()]
    assert logged == indices

    # A straight run with the same script produces the same report.
    straight = Run.create("q about alpha", WarpConfig(max_extends=1), run_dir=tmp_path / "s",
                          backend=ScriptedBackend(good_script(EXTEND)), searcher=MemorySearcher())
    straight.run()
    assert straight.snapshot().markdown == again.snapshot().markdown


def test_interrupt_keeps_state_and_resume_overrides(tmp_path):
    backend = ScriptedBackend(good_script())
    calls = []

    def stop_after_two():
        calls.append(1)
        return len(calls) > 2

    run = Run.create("q", WarpConfig(max_steps=50), run_dir=tmp_path / "r", backend=backend, searcher=MemorySearcher())
    run.run(stop=stop_after_two)
    assert run.state.step == 2
    again = Run.resume(tmp_path / "r", backend=backend, searcher=MemorySearcher(), max_steps=4)
    assert again.state.config.max_steps == 4
    again.run()
    assert again.state.step == 4


def test_resume_errors(tmp_path):
    with pytest.raises(RunError, match="no run at"):
        Run.resume(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "state.json").write_text("{not json")
    with pytest.raises(RunError, match="unreadable"):
        Run.resume(tmp_path / "bad")
    Run.create("q", run_dir=tmp_path / "taken", backend=ScriptedBackend(good_script()), searcher=MemorySearcher())
    with pytest.raises(RunError, match="already holds a run"):
        Run.create("q", run_dir=tmp_path / "taken")


def test_records_round_trip(tmp_path):
    run = Run.create("q", WarpConfig(max_extends=1, k=4), run_dir=tmp_path / "r",
                     backend=ScriptedBackend(good_script(EXTEND)), searcher=MemorySearcher())
    run.run()
    state = run.state
    assert RunState.from_dict(json.loads(json.dumps(state.to_dict()))).to_dict() == state.to_dict()
    for step in run.steps:
        assert Step.from_dict(json.loads(json.dumps(step.to_dict()))) == step
    p = Passage(doc_id="x#1", text="t", path="x.pdf", title="X", page=3, start=1, end=2, heading="A > B", score=1.5)
    assert Passage.from_dict(p.to_dict()) == p
    c = Completion("t", 1, 2, 0.5, "length")
    assert Completion.from_dict(c.to_dict()) == c
    assert WarpConfig.from_dict(WarpConfig(k=3).to_dict()) == WarpConfig(k=3)


def test_outputs(tmp_path):
    run = Run.create("q", WarpConfig(max_extends=1), run_dir=tmp_path / "r",
                     backend=ScriptedBackend(good_script(EXTEND)), searcher=MemorySearcher())
    run.run()
    md = run.snapshot().markdown
    assert md.count("## References") == 1
    refs = md.split("## References")[1]
    n_refs = refs.count("\n[")
    assert n_refs == len(run.report.citation_order()) and "docs/alpha.md" in refs
    cells = run.snapshot().cells["cells"]
    assert len(cells) == len(run.report.sections) + 1
    assert cells[0]["metadata"]["jupyter_warp"]["position"] == "section-1"
    assert cells[-1]["metadata"]["jupyter_warp"]["position"] == "references"
    nb_path = run.finish([tmp_path / "report.ipynb"]).reports[0]
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    nbformat.validate(nb)
    assert len(nb.cells) == len(cells) and "### 1.1 A" in nb.cells[0].source
    outline = run.snapshot().outline
    assert outline["status"] == "done" and outline["nodes"][0]["status"] == "extended"


@pytest.mark.parametrize("thinking", [False, True])
def test_a_model_in_the_pool_is_not_announced_as_loading(tmp_path, thinking):
    """``on_model_load`` asks the pool with the options the driver opens the model with
    (``enable_thinking`` among them), so a second run on the same model loads nothing."""
    opened, loads = [], []

    def factory(spec, **options):
        opened.append(options)
        return ScriptedBackend(good_script())

    pool = BackendPool(factory)
    hooks = RunHooks(on_model_load=lambda run: loads.append(run.run_id))
    for name in ("a", "b"):
        run = Run.create("What is alpha?", WarpConfig(enable_thinking=thinking, max_extends=0),
                         run_dir=tmp_path / name, backends=pool, searcher=MemorySearcher())
        run.run(1, hooks=hooks)
    assert len(opened) == 1 and opened[0].get("enable_thinking", False) is thinking
    assert len(loads) == 1
