"""Every prompt, in all four states, fits the window: distant sections are shortened before
passages are dropped, at least three passages stay, passages come back once the report fits,
and a prompt that cannot fit is a failed step (no model call) after which the run goes on."""

from __future__ import annotations

import json

from jupyter_warp.batch import Question, run_lockstep
from jupyter_warp.budget import TEMPLATE_MARGIN, fit_prompt
from jupyter_warp.config import WarpConfig
from jupyter_warp.llm import ReplayBackend
from jupyter_warp.records import Completion
from jupyter_warp.runs import Run
from scripted import MemorySearcher, ScriptedBackend, findings, good_script, reply, shown_keys

Q = "How does alpha relate to beta?"


def within(backend: ScriptedBackend, window: int) -> None:
    for r in backend.requests:
        assert backend.count_tokens(r.prompt) + r.max_tokens + TEMPLATE_MARGIN <= window, r.prompt[:80]


def test_report_shortened_before_passages_dropped_and_refilled():
    counted = []

    def render(level: int, n: int, chars: int) -> str:
        return "r" * (4000 - 900 * level) + "p" * (300 * n) + "c" * chars

    def count(text: str) -> int:
        counted.append(text)
        return len(text) // 4

    fit = fit_prompt(render, 10, count, 3000, 500, levels=3, passage_chars=100)
    assert fit.refusal is None and fit.passages == 10 and fit.cut == {}
    fit = fit_prompt(render, 10, count, 2000, 500, levels=3, passage_chars=100)
    assert fit.refusal is None and fit.passages == 10 and fit.cut == {"report_level": 2}  # report first
    fit = fit_prompt(render, 10, count, 1700, 500, levels=3, passage_chars=100)
    # at the shortest report, as many passages as fit: (1700-64-500)*4 = 4544 chars >= 2200 + 300 n + 100
    assert fit.cut == {"report_level": 2, "passages": 3} and fit.passages == 7
    fit = fit_prompt(render, 10, count, 1400, 500, levels=3, passage_chars=400)
    assert fit.refusal is None and fit.passages == 3 and fit.cut["passage_chars"] == 200  # never below 3 passages
    fit = fit_prompt(render, 2, count, 900, 500, levels=3, passage_chars=100)
    assert fit.refusal and "context window of 900" in fit.refusal and fit.passages == 2


def test_small_window_shrinks_the_reply_before_anything_else():
    fit = fit_prompt(lambda level, n, chars: "x" * 400, 0, lambda t: len(t) // 4, 2048, 2048)
    assert fit.refusal is None and fit.max_tokens == 2048 - TEMPLATE_MARGIN - 100
    assert fit.cut == {"reply_tokens": fit.max_tokens}


def test_every_state_fitted_at_a_small_window(tmp_path):
    searcher = MemorySearcher(per_query=10, text_len=60)
    window = 3000
    long_text = findings(0, 45)

    def script(request):
        if "You are the writer" in request.prompt:
            keys = shown_keys(request.prompt)
            return reply(long_text + f" [{keys[0]}].")
        return good_script({"name": "extend-plan", "position": "section-3",
                            "subsections": [{"title": "X", "plan": "x"}, {"title": "Y", "plan": "y"}]})(request)

    backend = ScriptedBackend(script, context_window=window)
    run = Run.create(Q, WarpConfig(max_extends=1, first_k=20, k=10), run_dir=tmp_path / "run", backend=backend,
                     searcher=searcher)
    run.run()
    assert run.state.status == "done" and all(s.error is None for s in run.steps)
    within(backend, window)
    states = {s.state for s in run.steps if s.cut}
    assert {"init_plan", "write"} <= states
    later = [s for s in run.steps if s.state == "write" and s.cut.get("report_level")]
    assert later and all(len(s.passages) >= 3 for s in run.steps if s.state == "write")
    assert any(s.state in ("search", "extend_plan") and s.cut.get("report_level") for s in run.steps)


def test_a_prompt_that_cannot_fit_fails_its_step_and_the_run_goes_on(tmp_path):
    class Headed(MemorySearcher):
        def search_many(self, queries, k):
            found = super().search_many(queries, k)
            for i, p in enumerate(found):
                p.heading = f"Topic {i % 3}"
            return found

    backend = ScriptedBackend(good_script(), context_window=560)
    run = Run.create(Q, WarpConfig(max_extends=0, max_retries=3, passage_max_chars=2000), run_dir=tmp_path / "run",
                     backend=backend, searcher=Headed(per_query=10, text_len=200))
    run.run()
    init = run.steps[1]
    assert init.state == "init_plan" and init.error.startswith("not sent to the model: the prompt needs")
    assert "headings" in init.fallback and init.cut.get("over_budget_tokens")  # at once, not after 3 tries
    writes = [s for s in run.steps if s.state == "write"]
    assert writes and all(s.error.startswith("not sent") and s.fallback == "section skipped" for s in writes)
    assert all("You are the writer" not in r.prompt and "You are the planner" not in r.prompt for r in backend.requests)
    assert run.state.status == "done" and "not in the report: 3 sections" in run.snapshot().summary


def test_tokens_counted_by_the_model_not_four_chars_for_cjk():
    replay = ReplayBackend([])
    assert replay.count_tokens("稀疏注意力如何权衡") == 9
    assert replay.count_tokens("abcdefgh") == 2


def test_lockstep_batch_goes_on_when_one_question_fails(tmp_path):
    class Flaky(ScriptedBackend):
        def generate(self, requests):
            out = super().generate(requests)
            return [Completion("", finish_reason="error", error="boom") if "Broken" in r.prompt else c
                    for r, c in zip(requests, out, strict=False)]

    class Exploding(MemorySearcher):
        def search_many(self, queries, k):
            if any("explode" in q for q in queries):
                raise RuntimeError("index crashed")
            return super().search_many(queries, k)

    def script(request):
        if "Explode" in request.prompt and "You are the searcher" in request.prompt:
            return reply({"name": "search", "keywords": ["explode"]})
        return good_script()(request)

    qs = [Question("ok", "Fine question?"), Question("bad", "Broken question?"), Question("boom", "Explode question?")]
    rows = run_lockstep(qs, WarpConfig(max_extends=0, max_retries=1), tmp_path / "out",
                        backend=Flaky(script), searcher=Exploding())
    status = {r.id: r for r in rows}
    assert status["ok"].status == "done" and (tmp_path / "out" / "ok" / "report.md").is_file()
    assert status["boom"].status == "error" and "index crashed" in status["boom"].error
    assert status["bad"].status in ("failed", "done")


def test_a_cut_off_json_action_is_rejected_and_retried(tmp_path):
    cut = '<thought>plan</thought>\n<action>{"name": "init-plan", "title": "T", "sections": [' \
          '{"title": "A", "plan": "a"}, ' \
          '{"title": "B", "plan": "b"}, {"title": "C", "pl'
    whole = reply({"name": "init-plan", "title": "T", "sections": [{"title": t, "plan": t.lower()} for t in "ABC"]})
    replies = [reply({"name": "search", "keywords": ["alpha"]}), Completion(cut, finish_reason="length"),
               Completion(cut.replace(', "pl', ', "plan": "c"}]}'), finish_reason="length"), whole]
    backend = ReplayBackend(replies)
    run = Run.create(Q, WarpConfig(max_steps=4), run_dir=tmp_path / "run", backend=backend, searcher=MemorySearcher())
    run.run()
    errors = [s.error for s in run.steps]
    assert errors[1] == "the action was cut off before </action> (the reply was cut off at the token limit)"
    assert errors[2] is None or "cut off" in errors[2]
    assert [n.title for n in run.report.sections] == ["A", "B", "C"] and run.report.sections[2].plan == "c"


def test_a_plan_without_its_plan_is_rejected(tmp_path):
    bad = reply({"name": "init-plan", "title": "T", "sections": [{"title": t} for t in "ABC"]})
    backend = ReplayBackend([reply({"name": "search", "keywords": ["a"]}), bad])
    run = Run.create(Q, WarpConfig(max_steps=2), run_dir=tmp_path / "run", backend=backend, searcher=MemorySearcher())
    run.run()
    assert "plan must be a non-empty string" in run.steps[1].error


def test_a_torn_step_line_is_repaired_and_no_completed_step_lost(tmp_path):
    run = Run.create(Q, WarpConfig(max_extends=0), run_dir=tmp_path / "run", backend=ScriptedBackend(good_script()),
                     searcher=MemorySearcher())
    run.run(max_steps=3)
    log = tmp_path / "run" / "steps.jsonl"
    whole = log.read_bytes()
    # A kill during the next step's append: its line is half written and state.json still names step 3.
    next_line = json.dumps({"index": 4, "state": "write", "prompt": "x" * 500}).encode()
    log.write_bytes(whole + next_line[: len(next_line) // 2])
    loaded = Run.load(tmp_path / "run")
    assert [s.index for s in loaded.steps] == [1, 2, 3]
    again = Run.resume(tmp_path / "run", backend=ScriptedBackend(good_script()), searcher=MemorySearcher())
    assert log.read_bytes() == whole  # the torn line is gone, the completed ones untouched
    again.run()
    lines = log.read_text().splitlines()
    assert [json.loads(line)["index"] for line in lines] == list(range(1, again.state.step + 1))
    assert again.state.status == "done"
