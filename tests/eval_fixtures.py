"""Real runs with known defects for the evaluation tests: the engine driven by a scripted
backend over three fixed passages, so every metric has an answer worked out by hand."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from jupyter_warp.config import WarpConfig
from jupyter_warp.records import ChatRequest, Passage
from jupyter_warp.runs import Run
from scripted import ScriptedBackend, plan, reply

QUESTION = "How does Python handle exceptions with try, finally and exception chaining?"
TRY = ("The try statement specifies exception handlers and cleanup code for a group of statements, "
       "and a matching except clause handles the exception.")
FINALLY = ("The finally clause is always executed on the way out of the try statement, "
           "whether an exception occurred or not.")
CHAIN = ("Exception chaining attaches the original exception as the cause of a new exception "
         "raised with the from clause.")
INVENTED = "Giraffes migrate across the northern tundra every winter in enormous herds."
INSTRUCTION = "Write this section as plain sentences that state facts from the passages above."
PASSAGES = [(TRY, "docs/try.md"), (FINALLY, "docs/finally.md"), (CHAIN, "docs/raise.md")]


class FixedSearcher:
    """Every search finds the same three passages."""

    def search_many(self, queries: Sequence[str], k: int) -> list[Passage]:
        return [Passage(doc_id=f"{path}#0", text=text, path=path, title=Path(path).stem, heading="Intro",
                        start=0, end=len(text)) for text, path in PASSAGES][:k]


def key_of(prompt: str, text: str) -> int:
    """The key under which a writer prompt shows the passage starting like ``text``."""
    match = re.search(rf"^\[(\d+)\] \([^)]*\) {re.escape(text[:30])}", prompt, re.MULTILINE)
    assert match, prompt
    return int(match.group(1))


def defect_script(reject_first_write: bool = False):  # type: ignore[no-untyped-def]
    """Section 1: a sentence copied from its passage and an invented one; section 2: a copied
    paragraph; section 3: the same paragraph again (``make_run`` adds an instruction phrase
    to it afterwards, as a user's edit: the engine rejects a reply that copies one)."""
    rejected: list[int] = []

    def script(request: ChatRequest) -> str:
        p = request.prompt
        if "You are the searcher" in p:
            return reply({"name": "search", "keywords": ["try statement", "exception chaining"]})
        if "You are the planner" in p:
            return reply(plan(3, "Exceptions in Python"))
        if "You are the writer" in p:
            if reject_first_write and not rejected:
                rejected.append(1)
                return reply("Too short [1].")
            k_try, k_fin, k_chain = key_of(p, TRY), key_of(p, FINALLY), key_of(p, CHAIN)
            paragraph = f"{CHAIN[:-1]} [{k_chain}]."
            if "update section-1" in p:
                return reply(f"{TRY[:-1]} [{k_try}]. {INVENTED[:-1]} [{k_fin}].")
            if "update section-2" in p:
                return reply(paragraph)
            return reply(paragraph)
        return reply({"name": "nop"})

    script.defects = True  # type: ignore[attr-defined]
    return script


def clean_script():  # type: ignore[no-untyped-def]
    """Every section a different passage's sentence, copied and cited: no defect at all."""

    def script(request: ChatRequest) -> str:
        p = request.prompt
        if "You are the searcher" in p:
            return reply({"name": "search", "keywords": ["try statement"]})
        if "You are the planner" in p:
            return reply(plan(3, "Exceptions in Python"))
        if "You are the writer" in p:
            text = {"section-1": TRY, "section-2": FINALLY}.get(re.search(r"update (section-\d)", p).group(1), CHAIN)
            return reply(f"{text[:-1]} [{key_of(p, text)}].")
        return reply({"name": "nop"})

    return script


def make_run(path: Path, script=None, question: str = QUESTION) -> Run:  # type: ignore[no-untyped-def]
    """A finished run in ``path`` (three sections, no deepening)."""
    config = WarpConfig(max_extends=0, max_steps=40, k=3, first_k=3)
    run = Run.create(question, config, run_dir=path, backend=ScriptedBackend(script or defect_script()),
                     searcher=FixedSearcher())
    run.run()
    assert run.state.state == "done", run.state.stop_reason
    if getattr(script or defect_script, "defects", script is None):  # section 3 also copies an instruction
        node = run.report.find("section-3")
        key = next(k for k, p in run.state.registry.passages.items() if p.text == TRY)
        node.text += f"\n\n{INSTRUCTION[:-1]} [{key}]."
        node.citations = list(dict.fromkeys(node.citations + [key]))
        run.save()
    return run
