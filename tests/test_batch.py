"""Lockstep batching with a scripted backend; the papermill path is in test_batch_papermill."""

import json
from pathlib import Path

import pytest

from jupyter_warp.batch import Question, load_questions, run_batch, run_lockstep, summary_table
from jupyter_warp.config import WarpConfig
from jupyter_warp.errors import ConfigError
from jupyter_warp.lockstep import Pacer
from scripted import MemorySearcher, ScriptedBackend, good_script, reply


class BoomSearcher(MemorySearcher):
    def search_many(self, queries, k):
        if "boom" in queries:
            raise RuntimeError("index exploded")
        return super().search_many(queries, k)


ONE_CALL_A_ROUND = Pacer(samples=0, reprobe_every=None)
"""A pacer that never sends a request alone to measure it: every round is one batched call."""


def script(req):
    if "You are the searcher" in req.prompt and "boom" in req.prompt:
        return reply({"name": "search", "keywords": ["boom"]})
    return good_script()(req)


def test_lockstep_one_call_per_round(tmp_path):
    backend = ScriptedBackend(good_script())
    qs = [Question("a", "first question about alpha"), Question("b", "second question about beta"),
          Question("c", "third question about gamma")]
    rows = run_lockstep(qs, WarpConfig(max_extends=0), tmp_path, backend=backend, searcher=MemorySearcher(),
                        pacer=ONE_CALL_A_ROUND)
    assert [r.status for r in rows] == ["done"] * 3
    assert backend.calls == rows[0].steps  # same budget: every round asks all three at once
    assert len(backend.requests) == sum(r.steps for r in rows)
    for q in qs:
        assert (tmp_path / q.id / "report.md").is_file() and (tmp_path / q.id / "report.ipynb").is_file()
        assert (tmp_path / q.id / "run" / "state.json").is_file()
    again = run_lockstep(qs, WarpConfig(max_extends=0), tmp_path, backend=backend, searcher=MemorySearcher())
    assert [r.status for r in again] == ["skipped"] * 3


def test_questions_finish_at_different_steps(tmp_path):
    extend = {"name": "extend-plan", "position": "section-1",
              "subsections": [{"title": "A", "plan": "a"}, {"title": "B", "plan": "b"}]}
    deep, flat = good_script(extend), good_script()

    def per_question(req):
        return deep(req) if "deepen me" in req.prompt else flat(req)

    backend = ScriptedBackend(per_question)
    qs = [Question("flat", "a flat question"), Question("deep", "please deepen me")]
    rows = run_lockstep(qs, WarpConfig(max_extends=1), tmp_path, backend=backend, searcher=MemorySearcher(),
                        pacer=ONE_CALL_A_ROUND)
    steps = {r.id: r.steps for r in rows}
    assert steps["flat"] == 9 and steps["deep"] == 13  # 8 + nop; 8 + extend + 2 x (search, write), rounds used up
    assert backend.calls == 13
    assert len(backend.requests) == 9 + 13


def test_crash_in_one_question_does_not_stop_others(tmp_path):
    backend = ScriptedBackend(script)
    qs = [Question("ok", "a normal question"), Question("bad", "a question that goes boom")]
    rows = run_lockstep(qs, WarpConfig(max_extends=0), tmp_path, backend=backend, searcher=BoomSearcher())
    by_id = {r.id: r for r in rows}
    assert by_id["ok"].status == "done"
    assert by_id["bad"].status == "error" and "index exploded" in by_id["bad"].error
    table = summary_table(rows)
    assert "1 of 2 questions done; failed: bad" in table


def test_question_file_problems(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text("\n".join([
        json.dumps({"id": 1, "prompt": "from the bench"}),
        "{broken json",
        json.dumps({"id": 1, "question": "duplicate"}),
        json.dumps({"id": 2, "question": ""}),
        json.dumps({"id": "x y", "question": "spaces in id"}),
    ]))
    loaded = load_questions(f)
    assert [(q.id, q.question) for q in loaded.questions] == [("1", "from the bench"), ("x-y", "spaces in id")]
    errors = [p.error for p in loaded.problems]
    assert "line 2 is not valid JSON" in errors[0] and "duplicate id 1" in errors[1] and "no question" in errors[2]
    rows = run_batch(f, config=WarpConfig(max_extends=0), out_dir=tmp_path / "out", lockstep=True,
                     backend=ScriptedBackend(good_script()), searcher=MemorySearcher())
    assert [r.status for r in rows] == ["error"] * 3 + ["done"] * 2
    with pytest.raises(ConfigError, match="no questions file"):
        load_questions(tmp_path / "missing.jsonl")


def test_deep_research_bench_questions_parse():
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "deep_research_bench" / "query.jsonl"
    if not path.is_file():
        pytest.skip("../shared/data is not beside this checkout")
    loaded = load_questions(path)
    assert len(loaded.questions) == 100 and not loaded.problems
