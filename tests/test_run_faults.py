"""Runs under faults: killed with ``kill -9`` at random points, two processes on one run,
a used step budget, a damaged ``state.json``, paths that cannot be used, impossible
settings. Each gives one line that says what to do, exit status 2, and loses nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus_files import three_docs_index
from jupyter_warp.cli import main
from jupyter_warp.config import WarpConfig
from jupyter_warp.llm import registry as registry_module
from jupyter_warp.runs import Run, open_run
from scripted import MemorySearcher, ScriptedBackend, good_script

WORKER = Path(__file__).parent / "step_worker.py"
REPO = Path(__file__).resolve().parents[1]
QUESTION = "How do alpha and beta relate?"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return three_docs_index(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def scripted_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--model scripted`` in this process: the scripted backend, every state answered."""
    reg = registry_module.BackendRegistry(entry_points=False)
    reg.register("scripted", lambda target, **options: ScriptedBackend(good_script()))
    monkeypatch.setattr(registry_module, "registry", reg)


class Processes:
    """``jupyter-warp`` processes forked from one that has imported everything (``step_worker``)."""

    def __init__(self, folder: Path) -> None:
        env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               "OMP_WAIT_POLICY": "PASSIVE"}
        self.folder = folder
        self.server = subprocess.Popen([sys.executable, str(WORKER), "--fork-server"], env=env, cwd=REPO, text=True,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.count = 0

    def _ask(self, command: dict) -> dict:
        assert self.server.stdin and self.server.stdout
        self.server.stdin.write(json.dumps(command) + "\n")
        self.server.stdin.flush()
        return json.loads(self.server.stdout.readline())

    def start(self, *args: str, delay: float = 0.05, pad: int = 0) -> tuple[int, Path]:
        """A process running ``jupyter-warp ARGS``: its pid and the file its output goes to."""
        self.count += 1
        log = self.folder / f"process-{self.count}.log"
        env = {"WARP_TEST_DELAY": str(delay), "WARP_TEST_PAD": str(pad)}
        return self._ask({"args": list(args), "log": str(log), "env": env})["pid"], log

    @staticmethod
    def running(pid: int) -> bool:
        """Whether the process is still running (not exited, not a zombie waiting to be reaped)."""
        try:
            return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    def wait(self, pid: int) -> int:
        """Its exit status (-9: killed)."""
        return int(self._ask({"wait": pid})["status"])

    def close(self) -> None:
        if self.server.stdin:
            self.server.stdin.close()
        self.server.wait(timeout=30)


@pytest.fixture
def processes(tmp_path: Path):
    procs = Processes(tmp_path)
    yield procs
    procs.close()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def completed_lines(run_dir: Path) -> dict[int, bytes]:
    """The step lines ``state.json`` counts as completed, by index, as bytes on disk."""
    step = json.loads((run_dir / "state.json").read_text())["step"]
    lines = (run_dir / "steps.jsonl").read_bytes().split(b"\n")
    out = {}
    for line in lines[:step]:
        record = json.loads(line)  # every completed step's line parses
        out[record["index"]] = line
    assert sorted(out) == list(range(1, step + 1))
    return out


def test_kill_9_at_random_points_loses_no_completed_step(tmp_path: Path, index: Path, processes: Processes) -> None:
    """A process stepping a run is killed many times, at random moments and just as it
    appends a step's line; each time the next process resumes, and at the end every line
    parses, no step repeats, and every step completed before a kill is there byte for byte."""
    rng = random.Random(14)
    run_dir = tmp_path / "run"
    steps = run_dir / "steps.jsonl"
    seen: dict[int, bytes] = {}
    outcomes = {"torn line": 0, "lines past the state": 0, "clean": 0}
    kills_during_the_run = 0
    first = ["run", QUESTION, "--model", "slow", "--index", str(index), "--run-dir", str(run_dir), "--quiet"]
    for kill in range(12):
        args = first if kill == 0 else ["run", "--resume", str(run_dir), "--quiet"]
        pid, log = processes.start(*args, delay=0.2, pad=400_000)
        # Wait until the step log grows (a step's line being appended; the resume's repair may
        # shrink it first), then kill at once or at a random moment after.
        size, grown, deadline = (steps.stat().st_size if steps.exists() else 0), False, time.time() + 60
        while not grown and processes.running(pid) and time.time() < deadline:
            now = steps.stat().st_size if steps.exists() else 0
            grown, size = now > size, now
            time.sleep(0.001)  # (a busy loop would starve the process on a small machine)
        if kill % 2:
            time.sleep(rng.uniform(0.0, 0.3))
        os.kill(pid, signal.SIGKILL)
        assert processes.wait(pid) in (-signal.SIGKILL, 0), log.read_text()
        data = steps.read_bytes()
        state = json.loads((run_dir / "state.json").read_text())
        kills_during_the_run += state["status"] != "done"
        if data and not data.endswith(b"\n"):
            outcomes["torn line"] += 1
        elif data.count(b"\n") > state["step"]:
            outcomes["lines past the state"] += 1
        else:
            outcomes["clean"] += 1
        now = completed_lines(run_dir)
        assert all(now[i] == line for i, line in seen.items())  # nothing completed was lost or changed
        seen.update(now)
    pid, log = processes.start("run", "--resume", str(run_dir), "--quiet", delay=0.0, pad=400_000)
    assert processes.wait(pid) == 0, log.read_text()
    final = completed_lines(run_dir)
    assert all(final[i] == line for i, line in seen.items())
    assert steps.read_bytes().count(b"\n") == len(final)  # nothing past the state
    run = Run.load(run_dir)
    assert run.state.status == "done" and [s.index for s in run.steps] == list(range(1, run.state.step + 1))
    assert len((run_dir / "passages.jsonl").read_text().splitlines()) == len(run.state.registry.passages)
    assert kills_during_the_run >= 10, outcomes  # (test_a_torn_last_line... makes the torn case for certain)
    print(f"kills: {outcomes}, {kills_during_the_run} before the run was done; steps completed before the last kill: "
          f"{len(seen)}, final: {len(final)}")


def test_a_torn_last_line_is_dropped_and_the_step_redone(tmp_path: Path) -> None:
    run = Run.create(QUESTION, WarpConfig(), run_dir=tmp_path / "r", backend=ScriptedBackend(good_script()),
                     searcher=MemorySearcher())
    run.run(max_steps=3)
    steps = tmp_path / "r" / "steps.jsonl"
    kept = steps.read_bytes()
    fourth = Run.resume(tmp_path / "r", backend=ScriptedBackend(good_script()), searcher=MemorySearcher())
    fourth.step()
    line = steps.read_bytes()[len(kept):]
    # What a kill during the append leaves: half of step 4's line, no newline; state.json says 3.
    steps.write_bytes(kept + line[: len(line) // 2])
    state = json.loads((tmp_path / "r" / "state.json").read_text())
    state_text = json.dumps({**state, "step": 3})
    # (state.json as it was before step 4: the step's line is written before the state.)
    (tmp_path / "r" / "state.json").write_text(state_text)
    again = Run.resume(tmp_path / "r", backend=ScriptedBackend(good_script()), searcher=MemorySearcher())
    assert steps.read_bytes() == kept  # the torn line is gone, the completed ones untouched
    again.run()
    assert [json.loads(x)["index"] for x in steps.read_text().splitlines()] == list(range(1, again.state.step + 1))
    assert steps.read_bytes().startswith(kept)


def test_two_processes_cannot_both_step_one_run(tmp_path: Path, index: Path, processes: Processes) -> None:
    run_dir = tmp_path / "run"
    pid, log = processes.start("run", QUESTION, "--model", "slow", "--index", str(index), "--run-dir", str(run_dir),
                               "--quiet", "--max-steps", "2", delay=0.0)
    assert processes.wait(pid) == 0, log.read_text()
    both = [processes.start("run", "--resume", str(run_dir), "--quiet", "--max-steps", "40", delay=0.3)
            for _ in range(2)]
    results = [(processes.wait(pid), log.read_text()) for pid, log in both]
    assert sorted(code for code, _ in results) == [0, 2], results
    loser = next(out for code, out in results if code == 2)
    errors = [line for line in loser.splitlines() if line.strip() and not line.startswith("resuming ")]
    assert len(errors) == 1 and errors[0].startswith("error: another process"), loser
    run = Run.load(run_dir)
    indices = [json.loads(x)["index"] for x in (run_dir / "steps.jsonl").read_text().splitlines()]
    assert indices == list(range(1, run.state.step + 1))  # no step number twice
    assert len((run_dir / "passages.jsonl").read_text().splitlines()) == len(run.state.registry.passages)
    for _, node, _ in run.report.walk():
        assert set(node.citations) <= set(run.state.registry.passages)
    assert run.state.status == "done"


def test_a_run_stopped_by_its_step_budget_continues_with_a_larger_one(
        tmp_path: Path, index: Path, scripted_model: None, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "r"
    code, _ = cli(capsys, "run", QUESTION, "--model", "scripted", "--index", str(index), "--run-dir", str(run_dir),
                  "--quiet", "--max-steps", "3")
    assert code == 0
    state = json.loads((run_dir / "state.json").read_text())
    assert state["step"] == 3 and "step budget used" in state["stop_reason"]
    code, err = cli(capsys, "run", "--resume", str(run_dir), "--quiet", "--max-steps", "6")
    assert code == 0 and "resuming" in err
    assert json.loads((run_dir / "state.json").read_text())["step"] == 6
    code, _ = cli(capsys, "run", "--resume", str(run_dir), "--quiet", "--max-steps", "100")
    state = json.loads((run_dir / "state.json").read_text())
    assert code == 0 and state["status"] == "done" and state["state"] == "done" and 6 < state["step"] < 100


DAMAGE = {
    "step is text": lambda s: {**s, "step": "abc"},
    "step is negative": lambda s: {**s, "step": -5},
    "unknown phase": lambda s: {**s, "state": "flying"},
    "unknown status": lambda s: {**s, "status": "sleeping"},
    "report is text": lambda s: {**s, "report": "nope"},
    "report is a list": lambda s: {**s, "report": []},
    "sections are text": lambda s: {**s, "report": {**s["report"], "sections": "x"}},
    "counters are text": lambda s: {**s, "counters": "abc"},
    "counter is a list": lambda s: {**s, "counters": {"searches": [1]}},
    "config is text": lambda s: {**s, "config": "x"},
    "setting of the wrong type": lambda s: {**s, "config": {**s["config"], "k": "ten"}},
    "unknown setting": lambda s: {**s, "config": {**s["config"], "colour": "red"}},
    "unknown passage key": lambda s: {**s, "passage_keys": [999]},
    "registry size too big": lambda s: {**s, "registry_size": 10_000},
    "registry size is text": lambda s: {**s, "registry_size": "3"},
    "no question": lambda s: {k: v for k, v in s.items() if k != "query"},
    "a list, not an object": lambda s: [1, 2],
    "null": lambda s: None,
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_state_is_one_line_and_changes_nothing(
        tmp_path: Path, index: Path, scripted_model: None, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    run_dir = tmp_path / "r"
    assert cli(capsys, "run", QUESTION, "--model", "scripted", "--index", str(index), "--run-dir", str(run_dir),
               "--quiet", "--max-steps", "4")[0] == 0
    (run_dir / "state.json").write_text(json.dumps(DAMAGE[damage](json.loads((run_dir / "state.json").read_text()))))
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    code, err = cli(capsys, "run", "--resume", str(run_dir), "--quiet", "--max-steps", "8")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "state.json" in err, err
    assert "another run folder" in err or "restore" in err
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before


def test_a_run_dir_that_is_a_file(tmp_path: Path, index: Path, scripted_model: None,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("mine")
    for args in (["run", QUESTION, "--model", "scripted", "--index", str(index), "--run-dir", str(tmp_path / "afile")],
                 ["run", "--resume", str(tmp_path / "afile")]):
        code, err = cli(capsys, *args, "--quiet")
        assert code == 2
        assert err.strip() == f"error: {tmp_path / 'afile'} is a file, not a run folder: pick another --run-dir"
    assert (tmp_path / "afile").read_text() == "mine"


@pytest.mark.parametrize("out", ["folder", "folder-file", "file/report.md"])
def test_an_out_path_that_cannot_be_written_fails_before_the_run(
        tmp_path: Path, index: Path, scripted_model: None, capsys: pytest.CaptureFixture[str], out: str) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("mine")
    target = tmp_path / "folder" if out == "folder" else tmp_path / out
    if out == "folder-file":
        target = tmp_path / "folder"
        (target / "keep.md").write_text("kept")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, err = cli(capsys, "run", QUESTION, "--model", "scripted", "--index", str(index),
                    "--run-dir", str(tmp_path / "r"), "--quiet", "--out", str(target))
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert "give a file name" in err or "give another path" in err
    assert not (tmp_path / "r").exists()  # refused before the run, not after it
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # no stray temporary file


@pytest.mark.parametrize("setting, message", [
    ("max_cites=0", "max_cites must be at least 1, got 0"),
    ("max_new_tokens=-5", "max_new_tokens must be at least 1, got -5"),
    ("passage_max_chars=-1", "passage_max_chars must be at least 1, got -1"),
    ("temperature=nan", "temperature must be a finite number"),
    ("top_p=inf", "top_p must be a finite number"),
    ("min_section_chars=5000", "write_max_chars (1500) must be above min_section_chars (5000)"),
    ("k=ten", "expected int"),
])
def test_impossible_settings_are_refused_before_a_run(
        tmp_path: Path, index: Path, scripted_model: None, capsys: pytest.CaptureFixture[str],
        setting: str, message: str) -> None:
    code, err = cli(capsys, "run", QUESTION, "--model", "scripted", "--index", str(index),
                    "--run-dir", str(tmp_path / "r"), "--quiet", "--set", setting)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "r").exists()


def test_impossible_settings_on_resume_leave_the_run_as_it_was(
        tmp_path: Path, index: Path, scripted_model: None, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "r"
    assert cli(capsys, "run", QUESTION, "--model", "scripted", "--index", str(index), "--run-dir", str(run_dir),
               "--quiet", "--max-steps", "2")[0] == 0
    before = (run_dir / "state.json").read_bytes()
    code, err = cli(capsys, "run", "--resume", str(run_dir), "--quiet", "--set", "max_cites=0")
    assert code == 2 and "max_cites must be at least 1" in err
    assert (run_dir / "state.json").read_bytes() == before
    assert open_run(run_dir=run_dir, backend=ScriptedBackend(good_script()), searcher=MemorySearcher()).state.step == 2
