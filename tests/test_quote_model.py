"""The embedded model with the demo budget on the demo question writes a grounded, readable
report (issue 13), measured with the model-free metrics of ``jupyter-warp eval``: every cited
sentence found word for word in its cited passage, no instruction phrase, under 5% repeated
4-grams, every title sharing a content word with the question or drawn from the first
search's top 10 passages, at least 3 sections written. One demo-sized run (about a minute
on 2 cores)."""

from __future__ import annotations

import re

import pytest

from jupyter_warp.config import WarpConfig
from jupyter_warp.corpus import build_index
from jupyter_warp.corpus.samples import export_pydoc_topics
from jupyter_warp.demo import DEMO_BUDGET, DEMO_QUESTION
from jupyter_warp.evaluate import evaluate
from jupyter_warp.evaluate import text as T
from jupyter_warp.evaluate.sources import load_run
from jupyter_warp.llm import get_backend
from jupyter_warp.runs import Run

EMPHASIS = re.compile(r"[*_`]{1,3}")
"""What the eval strips from a sentence (emphasis, code marks), stripped from the passage too."""


def held_to(run_dir) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The issue's checks on a finished run, from the eval's records and metrics."""
    record = load_run(run_dir)
    report = evaluate([record]).reports[0]
    run = Run.load(run_dir)
    first = next(s for s in run.steps if s.state == "search" and s.ok)
    top = {n.strip() for p in first.passages[:10] for n in p.heading.split(" > ") + [p.title] if n.strip()}
    asked = set(T.terms(T.words(record.query)))
    unfound = []
    for section in record.sections:
        for sentence in T.sentences(section.text, T.citable_keys(record, section)):
            said = " ".join(T.words(sentence.text))
            cited = [" ".join(T.words(EMPHASIS.sub("", record.passages[k].text))) for k in sentence.keys
                      if k in record.passages]
            if sentence.keys and not any(said in passage for passage in cited):
                unfound.append(sentence.text)
    return {
        "unfound": unfound,
        "copied": report.copied_phrases,
        "repetition": report.metrics["repetition"],
        "off_titles": [s.title for s in record.sections
                       if not asked & set(T.terms(T.words(s.title))) and s.title not in top],
        "written": report.metrics["written"],
        "supported_share": report.metrics["supported_share"],
        "cited_sentences": report.metrics["cited_sentences"],
    }


@pytest.mark.model
def test_the_demo_report_is_grounded_and_readable(tmp_path):
    export_pydoc_topics(tmp_path / "corpus")
    build_index([tmp_path / "corpus"], tmp_path / "index", progress=False)
    config = WarpConfig(index=str(tmp_path / "index"), **DEMO_BUDGET)
    run = Run.create(DEMO_QUESTION, config, run_dir=tmp_path / "run", backend=get_backend("smollm2"))
    run.run()
    assert run.machine.ctx.profile.write_mode == "quote" and run.machine.ctx.profile.assist
    checks = held_to(tmp_path / "run")
    assert checks["cited_sentences"] >= 3 and checks["unfound"] == [] and checks["supported_share"] == 1.0, checks
    assert checks["copied"] == [], checks
    assert checks["repetition"] < 0.05, checks
    assert checks["off_titles"] == [], checks
    assert checks["written"] >= 3, checks
    assert "Written in quote mode" in run.snapshot().markdown
