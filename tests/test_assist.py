"""Search assist, planning by choice and quote mode, through the whole loop over a real index
(the CPython language reference) with a scripted model in the embedded model's place: what
the engine searches, what it offers, what it makes of the numbers chosen, and that every
sentence of the report is found word for word in the passage it cites. The capable-model
path stays as it was (``test_capable``); the real embedded model is in ``test_quote_model``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jupyter_warp.config import WarpConfig
from jupyter_warp.corpus import build_index, open_index
from jupyter_warp.corpus.samples import export_pydoc_topics
from jupyter_warp.demo import DEMO_BUDGET, DEMO_QUESTION
from jupyter_warp.errors import ConfigError
from jupyter_warp.machine.profile import choose_profile
from jupyter_warp.machine.reply import ActionError
from jupyter_warp.machine.text import clean_keywords, noise
from jupyter_warp.machine.write import QUOTED, validate_section
from jupyter_warp.prompts import PromptRenderer
from jupyter_warp.runs import Run
from scripted import ScriptedBackend, reply

NOISE = ["with-f-f-f-f-f-f", "the_key_to_the_great_problem", "exception exception exception", "#2"]


@pytest.fixture(scope="module")
def pydoc(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pydoc")
    export_pydoc_topics(root / "corpus")
    build_index([root / "corpus"], root / "index", progress=False)
    return root / "index"


class Recording:
    """The real index, remembering every query it was asked."""

    def __init__(self, index: Path) -> None:
        self.index = open_index(index)
        self.queries: list[list[str]] = []
        self.found: list[str] = []

    def search_many(self, queries, k):  # type: ignore[no-untyped-def]
        self.queries.append(list(queries))
        found = self.index.search_many(queries, k)
        self.found += [" ".join(p.text.split()) for p in found]
        return found


def numbered(prompt: str) -> list[int]:
    return [int(n) for n in re.findall(r"^\s*(\d+)\. ", prompt, re.MULTILINE)]


def embedded_script(requests: list) -> object:  # type: ignore[type-arg]
    """Answers as the embedded model does under its grammars: noise among its keywords,
    a plan that repeats a choice, sentences chosen out of order and twice, one deepening."""

    def script(request) -> str:  # type: ignore[no-untyped-def]
        requests.append(request)
        p = request.prompt
        if "You are the searcher" in p:
            return reply({"name": "search", "keywords": NOISE + ["fuse"]}, "need evidence")
        offered = numbered(p)
        if "You are the planner" in p:
            return reply('{"name": "init-plan", "sections": [2, 2, 1]}', "three parts")
        if "You are the writer" in p:
            picks = [offered[min(2, len(offered) - 1)], offered[0], offered[min(2, len(offered) - 1)]]
            picks = picks[:len(offered)]  # the grammar admits no more numbers than are offered
            return reply("[" + ", ".join(map(str, picks)) + "]", "quote these")
        position = re.search(r"^(section-[\d.]+):$", p, re.MULTILINE)
        if position and not any(r.prompt.count("You are the editor") for r in requests[:-1]):
            first = offered[0]
            body = {"name": "extend-plan", "position": position.group(1), "subsections": [first, first]}
            return reply(json.dumps(body), "deepen the first")
        return reply('{"name": "nop"}', "complete")

    return script


def test_noise_keywords_are_dropped_and_real_ones_kept():
    kept, dropped = clean_keywords(NOISE + ["fuse", "try statement", "os.path.join", "state-of-the-art models",
                                            "稀疏注意力 准确率", "sys.exc_info"])
    assert kept == ["fuse", "try statement", "os.path.join", "state-of-the-art models", "稀疏注意力 准确率",
                    "sys.exc_info"]
    assert set(dropped) == set(NOISE)
    assert noise("aaaa bbbb") == noise("python-f-f-f-f") == "a run of one character"
    assert noise("try-except-finally-with-continue-finally-and-finally-with-f-") == "one word repeated"
    assert noise("find_all_by_tag_name_empty") == "a long chain of joined words"


def test_the_embedded_model_chooses_and_the_report_is_the_evidence(tmp_path, pydoc):
    requests: list = []  # type: ignore[type-arg]
    backend = ScriptedBackend(embedded_script(requests))
    backend.name = "transformers:SmolLM2-135M-Instruct.Q4_1.gguf"
    searcher = Recording(pydoc)
    config = WarpConfig(index=str(pydoc), **{**DEMO_BUDGET, "max_steps": 40})
    run = Run.create(DEMO_QUESTION, config, run_dir=tmp_path / "run", backend=backend, searcher=searcher)
    run.run()
    profile = run.machine.ctx.profile
    assert (profile.grammar, profile.assist, profile.write_mode) == ("full", True, "quote")
    assert run.state.status == "done" and all(s.error is None for s in run.steps), [s.error for s in run.steps]

    # Search assist: the question first, then each node's title and plan; noise never searched.
    searched = [q for qs in searcher.queries for q in qs]
    assert searcher.queries[0] == [DEMO_QUESTION] and not set(NOISE) & set(searched)
    search_steps = [s for s in run.steps if s.state == "search"]
    assert all(set(s.action["dropped"]) == set(NOISE) for s in search_steps)
    nodes = [n for _, n, _ in run.report.walk()]
    for node in nodes:
        assert any(q == " ".join(f"{node.title} {node.plan}".split()) for q in searched), node.title

    # Planning by choice: [2, 2, 1] merged to [2, 1] and topped up with the best left (1, 2, 3
    # being the ranked headings); titles are headings of the first passages, plans their sentences.
    plan = next(s for s in run.steps if s.state == "init_plan")
    assert plan.action["chosen"] == [2, 1] and plan.action["added"] == [3]
    first = search_steps[0].passages
    headings = {h.strip() for p in first for h in p.heading.split(" > ")} | {p.title for p in first}
    assert [n.title for n in run.report.sections] and all(n.title in headings for n in run.report.sections)
    assert all(any(n.plan in t for t in searcher.found) for n in nodes), [n.plan for n in nodes]
    assert run.report.title == DEMO_QUESTION

    # Deepening by choice: the first section offered, one subsection chosen twice, topped up.
    extend = next(s for s in run.steps if s.state == "extend_plan")
    assert extend.action["name"] == "extend-plan" and len(extend.action["chosen"]) == 1
    assert len(extend.action["subsections"]) == config.min_subsections

    # Quote mode: each section is the sentences chosen, in the order chosen, once each, every
    # one word for word in the passage it cites.
    writes = [s for s in run.steps if s.state == "write"]
    assert writes and all(s.action["mode"] == "quote" and 1 <= len(s.action["sentences"]) <= 2 for s in writes)
    for _, node, _ in run.report.walk():
        assert node.note == QUOTED and node.text
        for sentence, key in re.findall(r"(.+?) \[(\d+)\][.!?]?(?: |\n\n|$)", node.text):
            passage = " ".join(run.state.registry.passages[int(key)].text.split())
            assert sentence.strip() in passage, (sentence, key)
    assert "Written in quote mode" in run.snapshot().markdown

    # Every request the model saw carried the grammar of its choice.
    for request in requests:
        p = request.prompt
        choosing = re.search(r"^num\d* ::=", request.grammar, re.MULTILINE) is not None
        assert choosing == (not p.startswith("You are the searcher")), p[:80]


@pytest.mark.parametrize("model, setting, expected", [
    ("transformers:SmolLM2-135M-Instruct.Q4_1.gguf", {}, (True, "quote")),
    ("transformers:SmolLM2-135M-Instruct.Q4_1.gguf", {"assist": "off", "write_mode": "free"}, (False, "free")),
    ("transformers:SmolLM2-135M-Instruct.Q4_1.gguf", {"constrained": "off"}, (True, "free")),
    ("openai:http://gpu:8000/v1 openbmb/AgentCPM-Report", {}, (False, "free")),
    ("vllm:Qwen/Qwen3-8B", {"assist": "on", "write_mode": "quote"}, (True, "quote")),
])
def test_auto_assists_and_quotes_only_for_the_embedded_model(model, setting, expected):
    profile = choose_profile(model, True, WarpConfig(**setting))
    assert (profile.assist, profile.write_mode) == expected


def test_the_settings_name_their_choices():
    with pytest.raises(ConfigError, match="write_mode must be one of auto, quote, free"):
        WarpConfig(write_mode="verbatim")
    with pytest.raises(ConfigError, match="assist must be one of auto, on, off"):
        WarpConfig(assist="yes")


def test_copied_instructions_and_repetition_are_rejected_in_free_mode():
    renderer = PromptRenderer()
    from jupyter_warp.machine.text import instruction_ngrams

    grams = instruction_ngrams(renderer.source(s) for s in ("search", "init_plan", "write", "extend_plan"))
    config = WarpConfig()
    fine = ("Local windows keep only the neighbours of each token [3]. "
            "Global tokens gather a summary of the whole sequence [7].")
    assert validate_section(fine, [3, 7], "en", config, grams).cited == [3, 7]
    copied = fine + " Support every factual statement with the passages it comes from [3]."
    with pytest.raises(ActionError, match="copies the prompt's instructions"):
        validate_section(copied, [3, 7], "en", config, grams)
    placeholder = "One line: what this section will say about the question [3]. " + fine
    with pytest.raises(ActionError, match="copies the prompt's instructions"):
        validate_section(placeholder, [3, 7], "en", config, grams)
    said = "The passage is about how to use the debugger to step through the code"
    for text in (f"{said} [3]. {said} and step through it [3].", f"{fine} {fine}",
                 "to add the number of this section to the list of actions " * 5 + "[3]."):
        with pytest.raises(ActionError, match="repeats itself"):
            validate_section(text, [3, 7], "en", config, grams)


TLDR = """# git rebase

> Reapply commits from one branch onto another base commit.
> More information: <https://git-scm.com/docs/git-rebase>.

- Rebase the current branch on top of another specified branch:

`git rebase {{new_base_branch}}`

- Continue a rebase that was interrupted by a merge failure, after editing conflicting files:

`git rebase --continue`

- Abort a rebase in progress (e.g. if it is interrupted by a merge conflict):

`git rebase --abort`
"""


def test_a_task_is_quoted_with_its_command_as_a_list_item():
    from jupyter_warp.evaluate import text as E
    from jupyter_warp.evaluate.instructions import instruction_phrases
    from jupyter_warp.evaluate.metrics import report_metrics
    from jupyter_warp.evaluate.records import ReportRecord, Section, SourcePassage
    from jupyter_warp.machine.choice import quote_choices, quoted_text
    from jupyter_warp.records import Passage

    passage = Passage(doc_id="r", text=TLDR, path="pages/git-rebase.md", title="git rebase")
    question = "How do I rebase commits onto another git branch?"
    offered = quote_choices([passage], [4], "git rebase", "", question, "en", min_chars=20)
    assert [c.text for c in offered] == [
        "Reapply commits from one branch onto another base commit.",
        "Rebase the current branch on top of another specified branch: `git rebase {{new_base_branch}}`",
        "Continue a rebase that was interrupted by a merge failure, after editing conflicting files: "
        "`git rebase --continue`",
    ]  # the URL line and the task whose words hold "e.g." are not whole units
    text = quoted_text([offered[0], offered[1], offered[2]])
    assert text.split("\n\n")[1].startswith("- Rebase the current branch") and text.count("\n- ") == 2
    record = ReportRecord(id="r", kind="run", source="-", query="How do I rebase commits onto another git branch?",
                          sections=[Section("section-1", "git rebase", 1, text, shown=[4])],
                          passages={4: SourcePassage(4, TLDR, doc="pages/git-rebase.md")})
    said = E.sentences(text, [4])
    assert [s.keys for s in said] == [[4], [4], [4]]
    metrics = report_metrics(record, instruction_phrases())["metrics"]
    assert metrics["supported_share"] == 1.0 and metrics["uncited_statements"] == 0.0
