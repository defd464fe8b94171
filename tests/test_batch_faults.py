"""Batches under faults: a question that fails on the backend, a server that dies, an id
whose question changed, ids that are no folder names, a damaged finished run, bad lines in
the questions file, an output folder that is a file. Each is one row (or, for the command
line, one line and exit status 2); the other questions go on and ``summary.json`` is written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from corpus_files import three_docs_index
from jupyter_warp.batch import Question, load_questions, run_lockstep, run_papermill
from jupyter_warp.cli import main
from jupyter_warp.config import WarpConfig
from jupyter_warp.errors import BackendUnavailableError
from jupyter_warp.llm import registry as registry_module
from jupyter_warp.questions import MAX_ID_CHARS
from scripted import MemorySearcher, ScriptedBackend, good_script
from servers import LlamaServer, require_llama_server
from standins import StandIn

BIG = "alpha beta " * 100_000  # a 1 MB question


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return three_docs_index(tmp_path_factory.mktemp("corpus"))


POISON = "zebra-quartz question the server refuses"


class Picky(ScriptedBackend):
    """Refuses any call holding a prompt about POISON (as a server refusing one request of a
    batch fails the whole call), and records the longest prompt it was sent."""

    refused = 0
    longest = 0

    def generate(self, requests):
        self.longest = max([self.longest, *(len(r.prompt) for r in requests)])
        if any(POISON in r.prompt for r in requests):
            self.refused += 1
            raise ValueError("the server refused a request")
        return super().generate(requests)


class DiesAfter(ScriptedBackend):
    """Answers ``calls`` batched calls, then the server is gone."""

    def __init__(self, calls: int) -> None:
        super().__init__(good_script())
        self.limit = calls

    def generate(self, requests):
        if self.calls >= self.limit:
            raise BackendUnavailableError("model server at http://127.0.0.1:9 did not answer")
        return super().generate(requests)


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> dict[str, ScriptedBackend]:
    """``--model picky`` and ``--model dying`` on the command line, in this process."""
    made: dict[str, ScriptedBackend] = {}
    reg = registry_module.BackendRegistry(entry_points=False)
    reg.register("picky", lambda target, **o: made.setdefault("picky", Picky(good_script())))
    reg.register("dying", lambda target, **o: made.setdefault("dying", DiesAfter(4)))
    reg.register("scripted", lambda target, **o: ScriptedBackend(good_script()))
    monkeypatch.setattr(registry_module, "registry", reg)
    return made


def questions(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def batch(tmp_path: Path, index: Path, model: str, *extra: str, out: str = "out") -> tuple[int, dict[str, dict]]:
    code = main(["batch", str(tmp_path / "q.jsonl"), "--lockstep", "--index", str(index), "--model", model,
                 "--out-dir", str(tmp_path / out), "--quiet", *extra])
    rows = json.loads((tmp_path / out / "summary.json").read_text())
    return code, {r["id"]: r for r in rows}


def test_a_question_that_fails_on_the_backend_does_not_stop_the_batch(
        tmp_path: Path, index: Path, models: dict) -> None:
    questions(tmp_path / "q.jsonl", [{"id": "ok", "question": "How do alpha and beta relate?"},
                                     {"id": "big", "question": BIG},
                                     {"id": "poison", "question": f"alpha beta: {POISON}"}])
    code, rows = batch(tmp_path, index, "picky", "--max-steps", "20")
    assert code == 1
    assert rows["ok"]["status"] == "done" and rows["ok"]["steps"] > 5
    assert (tmp_path / "out" / "ok" / "report.md").is_file()
    # The 1 MB question never reached the model: no prompt of it fits the window, each step failed with why.
    assert rows["big"]["status"] in ("failed", "done") and "context window" in rows["big"]["error"]
    assert models["picky"].longest < 100_000
    # The refused question failed every round's batched call, which was retried request by request.
    assert rows["poison"]["status"] in ("failed", "done") and "refused" in rows["poison"]["error"]
    assert models["picky"].refused == 2 * rows["poison"]["steps"]


@pytest.mark.server
def test_a_1mb_question_against_a_real_server(tmp_path: Path, index: Path) -> None:
    """The embedded model behind llama-cpp-python's OpenAI-compatible server on loopback."""
    require_llama_server()
    questions(tmp_path / "q.jsonl", [{"id": "ok", "question": "How do alpha and beta relate?"},
                                     {"id": "big", "question": BIG}])
    with LlamaServer() as server:
        code, rows = batch(tmp_path, index, f"openai:{server.url}", "--max-steps", "2")
    assert set(rows) == {"ok", "big"}
    assert rows["ok"]["steps"] == 2 and rows["ok"]["tokens_out"] > 0 and "context window" not in rows["ok"]["error"]
    assert rows["ok"]["status"] == "done"  # its budget spent, its report written
    # No prompt holding the 1 MB question fits: its run failed, its row says why in one line,
    # and the batch exits 1 as it does whenever a question failed.
    assert rows["big"]["status"] == "failed" and "context window" in rows["big"]["error"]
    assert "\n" not in rows["big"]["error"] and code == 1


def test_a_dead_server_ends_the_batch_with_its_summary_and_a_rerun_resumes(
        tmp_path: Path, index: Path, models: dict) -> None:
    questions(tmp_path / "q.jsonl", [{"id": "a", "question": "How do alpha and beta relate?"},
                                     {"id": "b", "question": "What is gamma?"}])
    code, rows = batch(tmp_path, index, "dying", "--max-steps", "30")
    assert code == 1
    for qid in "ab":
        assert rows[qid]["status"] == "failed" and rows[qid]["steps"] >= 1  # the server answered 4 calls
        assert "did not answer" in rows[qid]["error"] and "run the batch again" in rows[qid]["error"]
    kept = (tmp_path / "out" / "a" / "run" / "steps.jsonl").read_bytes()
    code, rows = batch(tmp_path, index, "scripted", "--max-steps", "30")
    assert code == 0 and {r["status"] for r in rows.values()} == {"done"}
    steps = (tmp_path / "out" / "a" / "run" / "steps.jsonl").read_bytes()
    assert steps.startswith(kept) and [json.loads(x)["index"] for x in steps.splitlines()] == list(
        range(1, rows["a"]["steps"] + 1))


@pytest.mark.parametrize("finished", [True, False], ids=["done", "interrupted"])
def test_an_id_whose_question_changed_is_an_error_row_and_the_old_run_is_kept(
        tmp_path: Path, finished: bool) -> None:
    config = WarpConfig(max_extends=0, max_steps=30)
    first = ScriptedBackend(good_script()) if finished else DiesAfter(3)
    run_lockstep([Question("x", "alpha question")], config, tmp_path / "out", backend=first,
                 searcher=MemorySearcher())
    folder = tmp_path / "out" / "x"
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    for rows in (run_lockstep([Question("x", "gamma question")], config, tmp_path / "out",
                              backend=ScriptedBackend(good_script()), searcher=MemorySearcher()),
                 run_papermill([Question("x", "gamma question")], config, tmp_path / "out")):
        (row,) = rows
        assert row.status == "error" and "another question ('alpha question')" in row.error
        assert "give this question a new id" in row.error and f"move {folder} away" in row.error
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before  # not resumed, not touched


def test_ids_that_are_no_folder_names_get_safe_distinct_folders(tmp_path: Path) -> None:
    long_a, long_b = "a" * 300, "a" * 299 + "b"
    rows = [{"id": long_a, "question": "q1"}, {"id": long_b, "question": "q2"}, {"id": "x/y", "question": "q3"},
            {"id": "x y", "question": "q4"}, {"id": "X-Y", "question": "q5"}, {"id": "é/../..", "question": "q6"},
            {"id": "..", "question": "q7"}, {"id": None, "question": "q8"}, {"id": 7, "question": "q9"},
            {"id": ["a"], "question": "q10"}, {"id": "q11", "question": ["not", "text"]}]
    loaded = load_questions(questions(tmp_path / "q.jsonl", rows))
    ids = [q.id for q in loaded.questions]
    assert [q.question for q in loaded.questions] == [f"q{i}" for i in range(1, 10)]
    assert len({i.casefold() for i in ids}) == len(ids)  # distinct even on a case-insensitive file system
    assert all(0 < len(i) <= MAX_ID_CHARS and i not in (".", "..") and "/" not in i for i in ids)
    assert ids[2] == "x-y" and ids[8] == "7" and ids[7] == "q8"
    assert [p.error for p in loaded.problems] == ["line 10: the id must be a string or a number",
                                                  "line 11 has no question (a non-empty string)"]
    results = run_lockstep(loaded.questions, WarpConfig(max_extends=0, max_steps=3), tmp_path / "out",
                           backend=ScriptedBackend(good_script()), searcher=MemorySearcher())
    assert [r.status for r in results] == ["done"] * 9
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(ids)


def test_a_finished_folder_with_a_corrupt_state_is_an_error_row(tmp_path: Path) -> None:
    config = WarpConfig(max_extends=0, max_steps=30)
    qs = [Question("z", "alpha question"), Question("w", "beta question")]
    run_lockstep(qs, config, tmp_path / "out", backend=ScriptedBackend(good_script()), searcher=MemorySearcher())
    state = tmp_path / "out" / "z" / "run" / "state.json"
    state.write_text("{corrupt")
    for rows in (run_lockstep(qs, config, tmp_path / "out", backend=ScriptedBackend(good_script()),
                              searcher=MemorySearcher()),
                 run_papermill(qs, config, tmp_path / "out")):
        by_id = {r.id: r for r in rows}
        assert by_id["w"].status == "skipped"
        assert by_id["z"].status == "error" and "state.json is unreadable" in by_id["z"].error
        assert f"move {tmp_path / 'out' / 'z'} away to research this question again" in by_id["z"].error
    assert state.read_text() == "{corrupt" and not (tmp_path / "out" / "z" / "executed.ipynb").exists()


def test_bad_lines_in_the_questions_file_are_rows(tmp_path: Path, index: Path, models: dict,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "q.jsonl").write_bytes(b'\xef\xbb\xbf{"id": "b", "question": "How do alpha and beta relate?"}\n'
                                       b'{"id": "a", "question": "caf\xe9 au lait?"}\n'
                                       b'[1, 2]\n')
    code, rows = batch(tmp_path, index, "scripted", "--max-steps", "3")
    assert code == 1 and rows["b"]["status"] == "done"  # a byte-order mark is no problem
    assert rows["line-2"]["error"] == "line 2 is not valid UTF-8: save the questions file as UTF-8"
    assert "line 3 is not valid JSON" in rows["line-3"]["error"]


def test_an_out_dir_that_is_a_file_is_one_line(tmp_path: Path, index: Path, models: dict,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    questions(tmp_path / "q.jsonl", [{"id": "a", "question": "alpha?"}])
    (tmp_path / "taken").write_text("mine")
    code = main(["batch", str(tmp_path / "q.jsonl"), "--lockstep", "--index", str(index), "--model", "scripted",
                 "--out-dir", str(tmp_path / "taken"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == f"error: --out-dir {tmp_path / 'taken'} is a file: give a folder for the " \
                                        "questions' reports"
    assert (tmp_path / "taken").read_text() == "mine"


def test_an_api_key_reaches_the_server_and_never_the_output(
        tmp_path: Path, index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """From ``$OPENAI_API_KEY`` (``run``) and from ``--backend-opt api_key`` (``batch``)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-5ecret")
    questions(tmp_path / "q.jsonl", [{"id": "a", "question": "How do alpha and beta relate?"}])
    with StandIn("vllm") as server:
        main(["run", "How do alpha and beta relate?", "--index", str(index), "--model", f"openai:{server.url}",
              "--run-dir", str(tmp_path / "run"), "--max-steps", "2", "--quiet"])
        chats = server.paths("/v1/chat/completions")
        assert chats and {c.headers.get("Authorization") for c in chats} == {"Bearer sk-env-5ecret"}
        del server.calls[:]
        batch(tmp_path, index, f"openai:{server.url}", "--max-steps", "2", "--backend-opt", "api_key=sk-opt-5ecret")
        chats = server.paths("/v1/chat/completions")
        assert chats and {c.headers.get("Authorization") for c in chats} == {"Bearer sk-opt-5ecret"}
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.name != "q.jsonl")
    assert b"5ecret" not in written


# The papermill path: the template executed in a real kernel.
def test_an_out_dir_with_a_space_on_the_papermill_path(tmp_path: Path, index: Path) -> None:
    question = "How do alpha and beta relate?"
    config = WarpConfig(index=str(index), max_extends=0, max_steps=12, first_k=4, k=3)
    lock = run_lockstep([Question("q1", question)], config, tmp_path / "lockstep",
                        backend=ScriptedBackend(good_script()), searcher=None)
    assert lock[0].status == "done"
    replay = tmp_path / "lockstep" / "q1" / "run" / "steps.jsonl"  # the same replies, in the kernel
    out = tmp_path / "out sp" / "it's \"quoted\""
    (row,) = run_papermill([Question("q1", question)], config.replace(model=f"replay:{replay}"), out,
                           kernel_name="python3")
    assert row.status == "done", row.error
    assert (out / "q1" / "report.md").read_text() == (tmp_path / "lockstep" / "q1" / "report.md").read_text()
    assert (out / "q1" / "report.ipynb").is_file() and (out / "q1" / "run" / "state.json").is_file()


def test_an_api_key_reaches_the_server_from_the_papermill_path_and_never_the_notebook(
        tmp_path: Path, index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with StandIn("vllm") as server:
        config = WarpConfig(index=str(index), model=f"openai:{server.url}", max_steps=2,
                            backend_options={"api_key": "sk-pm-5ecret"})
        (row,) = run_papermill([Question("q1", "How do alpha and beta relate?")], config, tmp_path / "out",
                               kernel_name="python3")
        chats = server.paths("/v1/chat/completions")
    assert row.steps == 2, row.error
    assert chats and {c.headers.get("Authorization") for c in chats} == {"Bearer sk-pm-5ecret"}
    assert "OPENAI_API_KEY" not in os.environ  # put back as it was
    assert (tmp_path / "out" / "q1" / "executed.ipynb").is_file()
    written = b"".join(p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert b"5ecret" not in written
