"""The reference profile renders, byte for byte, what the reference system renders from its
own five templates (``../shared/data/agentcpm_prompts``) for the same report state.

The expected prompts come from an oracle transcribed from the reference's code, working on
the reference's own survey JSON (not on this project's report tree):
- UltraRAG ``servers/prompt/src/prompt.py`` (``_abbr_one_line``, ``_to_one_line``,
  ``_check_progress_postion_last_detail``, ``_print_tasknote``, ``_print_tasknote_hire``,
  ``surveycpm_search/init_plan/write/extend_plan``), rendered with ``jinja2.Template`` as
  the reference's pinned UltraRAG does. ``_to_one_line`` is UltraRAG's current one (the
  pinned copy repeats a near section's text twice; see ``jupyter_warp/prompts/reference.py``).
- AgentCPM ``custom.py`` ``surveycpm_process_passages_with_citation``: ``bibkey:textidN``.

Cases: the first search (no survey), the init-plan (passages), a later search and a write
(one top-level section written with ``\\cite``), a write under a deepened section (now at
depth 2, with depth-3 nodes), and the extend prompt of a whole report with subsections.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from jupyter_warp.config import WarpConfig
from jupyter_warp.machine import Phase
from jupyter_warp.machine.stage import ModelInfo
from jupyter_warp.machine.stepper import Machine
from jupyter_warp.prompts import PromptRenderer
from jupyter_warp.records import Passage
from jupyter_warp.runs import Run
from jupyter_warp.state import RunState
from scripted import MemorySearcher, ScriptedBackend, reply

PROMPTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "agentcpm_prompts"
pytestmark = pytest.mark.skipif(not PROMPTS.is_dir(), reason="the reference prompts are not in ../shared/data")
QUERY = "How do sparse attention methods trade accuracy for speed?"


# The oracle: the reference's code, on the reference's survey dict.
def _abbr_one_line(string, abbr=True, tokenizer=None):
    if isinstance(string, dict):
        if "content" in string and string["content"]:
            return _abbr_one_line(string["content"], abbr=abbr, tokenizer=tokenizer)
        elif "plan" in string:
            return "[PLAN] " + string["plan"].replace("\n", " ").strip()
        else:
            return ""
    if not string:
        return ""
    return "[OK] " + string.replace("\n", " ").strip()


def _to_one_line(string):
    if isinstance(string, dict):
        if "content" in string:
            if not string["content"]:
                return ""
            return "[OK] " + string["content"].replace("\n", " ").strip()
        elif "plan" in string:
            return "[PLAN] " + string["plan"].replace("\n", " ").strip()
        else:
            return ""
    if not string:
        return ""
    return string.replace("\n", " ")


def _last_detail(survey):
    if survey == {}:
        return "outline"
    titles = ["outline"]
    for i, section in enumerate(survey["sections"]):
        if "content" not in section:
            return titles[-1]
        titles.append(f"section-{i+1}")
        for j, subsection in enumerate(section.get("subsections", [])):
            if "content" not in subsection:
                return titles[-1]
            titles.append(f"section-{i+1}.{j+1}")
            for k, subsub in enumerate(subsection.get("subsections", [])):
                if "content" not in subsub:
                    return titles[-1]
                titles.append(f"section-{i+1}.{j+1}.{k+1}")
    return titles[-1]


def _print_tasknote(survey, abbr=True):
    if survey == {}:
        return "There is no survey."
    string = f"# Title: {_abbr_one_line(survey['title'], abbr=False)}\n"
    for i, section in enumerate(survey["sections"]):
        string += f"# Section-{i+1} [{section['title']}]: {_abbr_one_line(section, abbr)}\n"
        for j, subsection in enumerate(section.get("subsections", [])):
            string += f"    ## Section-{i+1}.{j+1} [{subsection['title']}]: {_abbr_one_line(subsection, abbr)}\n"
            for k, subsub in enumerate(subsection.get("subsections", [])):
                string += f"        ### Section-{i+1}.{j+1}.{k+1} [{subsub['title']}]: {_abbr_one_line(subsub, abbr)}\n"
    return string


def _print_tasknote_hire(survey):
    if survey == {}:
        return "There is no survey."
    string = f"# Title: {_abbr_one_line(survey['title'], abbr=False)}\n"
    now = _last_detail(survey)
    hire = now.count(".")
    for i, section in enumerate(survey["sections"]):
        near = now and (hire == 0 or (now.startswith(f"section-{i+1}") and hire == 1))
        string += f"# Section-{i+1} [{section['title']}]: {(_to_one_line if near else _abbr_one_line)(section)}\n"
        for j, sub in enumerate(section.get("subsections", [])):
            near = ((now.startswith(f"section-{i+1}") and hire == 1)
                    or (now.startswith(f"section-{i+1}.{j+1}") and hire == 2))
            line = (_to_one_line if near else _abbr_one_line)(sub)
            string += f"    ## Section-{i+1}.{j+1} [{sub['title']}]: {line}\n"
            for k, subsub in enumerate(sub.get("subsections", [])):
                fn = _to_one_line if now.startswith(f"section-{i+1}.{j+1}") else _abbr_one_line
                string += f"        ### Section-{i+1}.{j+1}.{k+1} [{subsub['title']}]: {fn(subsub)}\n"
    return string


def _information(texts: list[str], ids: list[int]) -> str:
    return "\n\n".join(f"bibkey:textid{i}\n{t}" for i, t in zip(ids, texts, strict=False)).strip()


def oracle(state: str, survey: dict, cursor: str | None, info: str = "") -> str:
    template = jinja2.Template((PROMPTS / f"surveycpm_{state}.jinja").read_text(encoding="utf-8"))
    if state == "search":
        outline = "There is no survey." if not survey else _print_tasknote(survey, abbr=True)
        return template.render(user_query=QUERY, current_outline=outline,
                               current_instruction=f"You need to update {cursor}")
    if state == "init_plan":
        return template.render(user_query=QUERY, current_information=info)
    if state == "write":
        return template.render(user_query=QUERY, current_survey=_print_tasknote_hire(survey),
                               current_instruction=f"You need to update {cursor}", current_information=info)
    return template.render(user_query=QUERY, current_survey=_print_tasknote(survey, abbr=False))


# The same state, in this project's tree.
TEXTS = [f"Passage {i}: sparse attention keeps {i * 8} tokens per row.\nA second line {i}." for i in range(1, 7)]
SECTION_1 = ("Sparse methods *drop* most attention weights \\cite{textid1, textid3}.\n\n"
             "| method | keep |\n|---|---|\n| local | 8 |\n\nSo speed grows \\cite{textid2}.")


def machine(tmp_path, phase: Phase) -> tuple[Machine, RunState]:
    state = RunState.new("r", QUERY, WarpConfig(prompts_dir=str(PROMPTS)))
    state.state = phase
    info = ModelInfo(lambda text: len(text) // 4, 1_000_000, True)
    searcher = MemorySearcher()
    return Machine(state, searcher, info, PromptRenderer(PROMPTS)), state


def passages(state: RunState, n: int) -> list[int]:
    found = [Passage(f"d{i}", TEXTS[i - 1], f"p{i}.md") for i in range(1, n + 1)]
    state.passages = found
    return state.registry.keys_for(found)


def planned(state: RunState) -> None:
    state.report.init_plan("Sparse attention: accuracy\nversus speed",
                           [{"title": "Methods", "plan": "The families of sparse\nattention."},
                            {"title": "Accuracy", "plan": "What each loses."},
                            {"title": "Speed", "plan": ""}])


def test_first_search_and_init_plan(tmp_path):
    m, state = machine(tmp_path, Phase.SEARCH)
    assert m.prepare().request.prompt == oracle("search", {}, "outline")
    m, state = machine(tmp_path, Phase.INIT_PLAN)
    ids = passages(state, 4)
    expected = oracle("init_plan", {}, None, _information(TEXTS[:4], ids))
    assert m.prepare().request.prompt == expected
    assert "bibkey:textid1\nPassage 1: sparse" in expected


def test_later_search_and_write(tmp_path):
    survey = {"title": "Sparse attention: accuracy\nversus speed", "sections": [
        {"title": "Methods", "plan": "The families of sparse\nattention.", "content": SECTION_1},
        {"title": "Accuracy", "plan": "What each loses."},
        {"title": "Speed", "plan": ""}]}
    for phase in (Phase.SEARCH, Phase.WRITE):
        m, state = machine(tmp_path, phase)
        planned(state)
        keys = passages(state, 3)
        state.report.write("section-1", SECTION_1.replace("\\cite{textid1, textid3}", "[1][3]")
                           .replace("\\cite{textid2}", "[2]"), [1, 3, 2])
        state.target_id = state.report.find("section-2").id
        turn = m.prepare()
        if phase == Phase.SEARCH:
            assert turn.request.prompt == oracle("search", survey, "section-2")
        else:
            assert turn.request.prompt == oracle("write", survey, "section-2", _information(TEXTS[:3], keys))
            line = "# Section-1 [Methods]: [OK] Sparse methods *drop* most attention weights \\cite{textid1, textid3}."
            assert line in turn.request.prompt


def test_write_under_a_deepened_section_and_extend(tmp_path):
    survey = {"title": "T", "sections": [
        {"title": "Methods", "plan": "p1", "content": "Intro text \\cite{textid1}.", "subsections": [
            {"title": "Local", "plan": "p11", "content": "Local windows \\cite{textid2}.", "subsections": [
                {"title": "Fixed", "plan": "p111", "content": "Fixed \\cite{textid1}."},
                {"title": "Dilated", "plan": "p112"}]},
            {"title": "Global", "plan": "p12"}]},
        {"title": "Accuracy", "plan": "p2", "content": "Loss \\cite{textid3}."}]}

    def build(phase: Phase) -> tuple[Machine, RunState]:
        m, state = machine(tmp_path, phase)
        state.report.init_plan("T", [{"title": "Methods", "plan": "p1"}, {"title": "Accuracy", "plan": "p2"}])
        passages(state, 3)
        r = state.report
        r.write("section-1", "Intro text [1].", [1])
        r.extend("section-1", [{"title": "Local", "plan": "p11"}, {"title": "Global", "plan": "p12"}])
        r.write("section-1.1", "Local windows [2].", [2])
        r.extend("section-1.1", [{"title": "Fixed", "plan": "p111"}, {"title": "Dilated", "plan": "p112"}])
        r.write("section-1.1.1", "Fixed [1].", [1])
        r.write("section-2", "Loss [3].", [3])
        return m, state

    m, state = build(Phase.WRITE)
    state.target_id = state.report.find("section-1.1.2").id
    keys = state.registry.keys_for(state.passages)
    assert m.prepare().request.prompt == oracle("write", survey, "section-1.1.2", _information(TEXTS[:3], keys))
    survey["sections"][0]["subsections"][0]["subsections"][1]["content"] = "Dilated \\cite{textid2}."
    survey["sections"][0]["subsections"][1]["content"] = "Global \\cite{textid3}."
    m, state = build(Phase.EXTEND_PLAN)
    state.report.write("section-1.1.2", "Dilated [2].", [2])
    state.report.write("section-1.2", "Global [3].", [3])
    prompt = m.prepare().request.prompt
    assert prompt == oracle("extend_plan", survey, None)
    assert "        ### Section-1.1.2 [Dilated]: [OK] Dilated \\cite{textid2}.\n" in prompt


def test_a_run_on_the_reference_prompts_resolves_textid_citations(tmp_path):
    seen = []

    def script(request):
        p = request.prompt
        seen.append(p)
        if "You are a searcher" in p:
            return reply({"name": "search", "keywords": ["alpha", "beta"]})
        if "init-plan" in p and "Latest Retrieved Information" in p:
            return reply({"name": "init-plan", "title": "T", "sections": [
                {"title": f"S{i}", "plan": f"plan {i}"} for i in range(1, 4)]})
        if "You are a writer" in p:
            keys = [line.split("textid")[1] for line in p.splitlines() if line.startswith("bibkey:textid")]
            first, last, second = keys[0], keys[-1], keys[1]
            return reply(f"Evidence shows this clearly enough \\cite{{textid{first}, textid{last}}}, "
                         f"and more \\cite{{textid{second}}}.")
        return reply({"name": "nop"})

    run = Run.create(QUERY, WarpConfig(prompts_dir=str(PROMPTS), max_extends=1), run_dir=tmp_path / "run",
                     backend=ScriptedBackend(script), searcher=MemorySearcher())
    run.run()
    assert run.state.status == "done" and all(s.error is None for s in run.steps), [s.error for s in run.steps]
    md = run.snapshot().markdown
    assert "\\cite" not in md and "textid" not in md
    assert md.count("Evidence shows this clearly enough [") == 3 and "## References" in md
    assert seen[0].startswith("You are a searcher") and "You need to update outline" in seen[0]
    assert any("You need to update section-2" in p for p in seen)
