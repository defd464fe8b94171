"""The judge path end to end on the embedded model: plumbing, not judging quality.

Eight judgements in all (RACE on two one-criterion dimensions for two reports, FACT on two
citations, pairwise in both orders), short prompts and grammar-bounded replies, in three
batched calls.
"""

import json

import pytest

from eval_fixtures import QUESTION, make_run
from jupyter_warp.evaluate import evaluate, load_run
from jupyter_warp.evaluate.records import ReportRecord


@pytest.mark.model
def test_judge_end_to_end_on_the_embedded_model(tmp_path):
    from jupyter_warp.llm import get_backend

    make_run(tmp_path / "run")
    criteria = tmp_path / "criteria.jsonl"
    criteria.write_text(json.dumps({
        "id": 9, "prompt": QUESTION, "dimension_weight": {"comprehensiveness": 0.5, "readability": 0.5},
        "criterions": {
            "comprehensiveness": [{"criterion": "Covers try, finally and chaining", "explanation": "", "weight": 1}],
            "readability": [{"criterion": "Clear sentences", "explanation": "", "weight": 1}],
        },
    }) + "\n")
    reference = tmp_path / "reference.md"
    reference.write_text("# Exceptions\n\nThe try statement handles exceptions; finally always runs; "
                         "raise ... from chains a cause.\n")
    other = ReportRecord(id="other", kind="submission", source="-", query=QUESTION, group="other",
                         article="# Exceptions\n\nPython uses try and except to catch errors.")
    backend = get_backend("smollm2")
    assert backend.supports_grammar
    result = evaluate([load_run(tmp_path / "run"), other], judge=backend, criteria=criteria, reference=reference,
                      pairwise=True, fact_max=2, judge_max_tokens=40, judge_context=1200)
    kinds = [j.kind for j in result.judgements]
    assert (kinds.count("race"), kinds.count("fact"), kinds.count("pairwise")) == (4, 2, 2)
    assert all(j.error is None and j.parsed is not None and j.prompt_tokens > 0 for j in result.judgements), \
        [(j.kind, j.reply, j.error) for j in result.judgements]
    for report in result.reports:
        assert 0 <= report.race["overall"] <= 100
    assert result.reports[0].fact["judged"] == 2 and result.reports[1].fact is None
    pairwise = result.pairwise
    assert pairwise["win"] + pairwise["tie"] + pairwise["loss"] == 1
    assert pairwise["questions"][0]["a_first"] in ("1", "2", "tie")
