"""Every transition of the WARP state machine, driven by a scripted backend."""

import pytest

from jupyter_warp.config import WarpConfig
from jupyter_warp.runs import Run
from scripted import MemorySearcher, ScriptedBackend, good_script, plan, reply

EXTEND = {"name": "extend-plan", "position": "section-2",
          "subsections": [{"title": "Deeper A", "plan": "a"}, {"title": "Deeper B", "plan": "b"}]}


def new_run(tmp_path, script, searcher=None, **config):
    backend = ScriptedBackend(script)
    run = Run.create("How does alpha relate to beta?", WarpConfig(**config), run_dir=tmp_path / "run",
                     backend=backend, searcher=searcher or MemorySearcher())
    return run, backend


def test_full_loop_transitions(tmp_path):
    run, backend = new_run(tmp_path, good_script(EXTEND), max_extends=2)
    run.run()
    states = [s.state for s in run.steps]
    assert states[:2] == ["search", "init_plan"]
    assert states[2:8] == ["search", "write"] * 3
    assert states[8] == "extend_plan"
    assert states[9:13] == ["search", "write"] * 2
    assert states[13:] == ["extend_plan"]
    assert run.state.status == "done" and "nop" in run.state.stop_reason
    assert run.report.positions() == ["section-1", "section-2", "section-2.1", "section-2.2", "section-3"]
    assert all(s.error is None for s in run.steps)
    assert run.state.counters["searches"] == 6 and run.state.counters["extends"] == 1
    first, later = backend.requests[0], backend.requests[2]
    assert "first search" in first.prompt and "update section-1 [Part 1]" in later.prompt
    assert all(r.grammar for r in backend.requests)
    write_step = run.steps[3]
    assert write_step.position == "section-1" and write_step.keys and write_step.diff
    assert write_step.prompt_tokens > 0 and write_step.thought == "reasoning"


def test_passage_counts_first_then_later(tmp_path):
    searcher = MemorySearcher(per_query=20)
    run, _ = new_run(tmp_path, good_script(), searcher=searcher, first_k=20, k=10, max_extends=0)
    run.run(max_steps=3)
    assert len(run.steps[0].passages) == 20 and len(run.steps[2].passages) == 10


def test_extends_used_up_ends_without_asking(tmp_path):
    run, backend = new_run(tmp_path, good_script(EXTEND), max_extends=0)
    run.run()
    assert run.steps[-1].state == "write" and run.state.state == "done"
    assert "deepening rounds used (0/0)" in run.state.stop_reason


def test_max_steps_stops(tmp_path):
    run, _ = new_run(tmp_path, good_script(EXTEND), max_steps=5)
    run.run()
    assert run.state.step == 5 and run.state.status == "done" and "step budget" in run.state.stop_reason
    assert run.step() is None


def test_invalid_replies_retried_then_search_falls_back(tmp_path):
    def script(req):
        if "You are the searcher" in req.prompt:
            return "I refuse to use tags"
        return good_script()(req)

    searcher = MemorySearcher()
    run, _ = new_run(tmp_path, script, searcher=searcher, max_retries=2, max_steps=4)
    run.run()
    s1, s2 = run.steps[:2]
    assert s1.error == "no <action> tag in the reply" and s1.fallback is None and s1.state == "search"
    assert s2.fallback and "searched the section title and question" in s2.fallback
    assert searcher.queries[0] == ["How does alpha relate to beta?"]
    assert run.steps[2].state == "init_plan"


def test_write_failures_skip_the_section(tmp_path):
    def script(req):
        if "You are the writer" in req.prompt and "update section-2" in req.prompt:
            return reply("No citations here, just a long enough paragraph about nothing in particular at all.")
        return good_script()(req)

    run, _ = new_run(tmp_path, script, max_retries=2, max_extends=0)
    run.run()
    assert run.report.find("section-2").status == "failed"
    assert run.report.find("section-3").status == "written"
    errors = [s.error for s in run.steps if s.error]
    assert len(errors) == 2 and all("cite 1 to 12" in e for e in errors)
    shot = run.snapshot()
    assert "Part 2" not in shot.markdown and "## 2 Part 3" in shot.markdown  # no empty heading, renumbered
    assert shot.summary.endswith("not in the report: 1 section (section-2)")


def test_invalid_init_plan_falls_back_to_passage_headings(tmp_path):
    def script(req):
        if "You are the planner" in req.prompt:
            return reply(plan(2))
        return good_script()(req)

    class Headed(MemorySearcher):
        def search_many(self, queries, k):
            found = super().search_many(queries, k)
            for i, p in enumerate(found):
                p.heading = f"Chapter > Topic {i % 3}"
            return found

    run, _ = new_run(tmp_path, script, searcher=Headed(per_query=2), max_retries=2, max_extends=0)
    run.run()
    fallback = run.steps[2]
    assert fallback.state == "init_plan" and "outline built from the headings of the 4 passages" in fallback.fallback
    assert [n.title for n in run.report.sections] == ["Topic 0", "Topic 1", "Topic 2"]
    assert run.state.status == "done" and all(n.status == "written" for n in run.report.sections)


def test_invalid_init_plan_fails_run_but_resumable(tmp_path):
    def script(req):
        if "You are the planner" in req.prompt:
            return reply(plan(2))
        return good_script()(req)

    run, _ = new_run(tmp_path, script, max_retries=2)
    run.run()
    assert run.state.status == "failed" and "no valid plan" in run.state.stop_reason
    assert run.state.state == "init_plan"
    again = Run.resume(run.dir, backend=ScriptedBackend(good_script()), searcher=MemorySearcher())
    assert again.state.status == "running"
    again.run()
    assert again.state.status == "done" and len(again.report.sections) == 3


def test_invalid_extend_counts_as_a_round(tmp_path):
    bad = {"name": "extend-plan", "position": "section-7", "subsections": EXTEND["subsections"]}
    run, _ = new_run(tmp_path, good_script(bad), max_extends=1)
    run.run()
    assert run.steps[-1].state == "extend_plan" and "does not exist" in run.steps[-1].error
    assert run.state.status == "done" and run.state.extend_count == 1


def test_user_edits_between_steps(tmp_path):
    run, backend = new_run(tmp_path, good_script(), max_extends=0)
    run.run(max_steps=3)  # search, init_plan, search for section-1
    assert run.state.state == "write"
    run.edit("rename", "section-2", title="Renamed")
    run.edit("lock", "section-3")
    run.edit("delete", "section-1")
    run.edit("add", None, title="Added", plan="new")
    step = run.step()
    assert step.state == "search" and step.position == "section-1"  # re-searched for the new cursor
    run.run()
    assert [n.title for n in run.report.sections] == ["Renamed", "Part 3", "Added"]
    assert run.report.find("section-2").status == "planned" and run.report.find("section-2").locked
    assert run.report.find("section-3").status == "written"
    assert (run.dir / "edits.jsonl").read_text().count("\n") == 4
    assert any("update section-1 [Renamed]" in r.prompt for r in backend.requests)


def test_prompt_budget_drops_passages_and_records_cut(tmp_path):
    searcher = MemorySearcher(per_query=10, text_len=60)
    run, backend = new_run(tmp_path, good_script(), searcher=searcher, max_steps=2, first_k=20)
    backend.context_window = 2600
    run.run()
    init = run.steps[1]
    assert init.state == "init_plan" and init.cut.get("passages", 0) > 0
    assert len(init.passages) == 20 - init.cut["passages"]
    assert backend.count_tokens(backend.requests[1].prompt) + backend.requests[1].max_tokens <= 2600


def test_no_grammar_when_backend_cannot(tmp_path):
    run, backend = new_run(tmp_path, good_script(), max_steps=2)
    backend.supports_grammar = False
    run.run()
    assert all(r.grammar is None for r in backend.requests)
    assert backend.requests[0].max_tokens == 2048


def test_chinese_question_sets_language(tmp_path):
    backend = ScriptedBackend(good_script())
    run = Run.create("人工智能如何改变教育？", WarpConfig(max_steps=1), run_dir=tmp_path / "zh", backend=backend,
                     searcher=MemorySearcher())
    run.run()
    assert run.state.language == "zh" and "in Chinese" in backend.requests[0].prompt


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question(tmp_path, question):
    from jupyter_warp.errors import ConfigError

    with pytest.raises(ConfigError, match="empty"):
        Run.create(question, run_dir=tmp_path / "x", backend=ScriptedBackend(good_script()), searcher=MemorySearcher())
