"""The judge path with a scripted judge: RACE arithmetic and parsing, FACT, pairwise."""

import json
import re

import pytest

from eval_fixtures import make_run
from jupyter_warp.errors import BackendUnavailableError
from jupyter_warp.evaluate import evaluate
from jupyter_warp.evaluate.judge import Judge
from jupyter_warp.evaluate.pairwise import outcome, parse_winner
from jupyter_warp.evaluate.race import Criterion, TaskCriteria, load_criteria, parse_scores, race_score, scores_grammar
from jupyter_warp.evaluate.records import ReportRecord
from scripted import ScriptedBackend

SAMPLE = "../shared/data/deep_research_bench/eval_sample"
CRITERIA, REFERENCE, PEERS = f"{SAMPLE}/criteria.jsonl", f"{SAMPLE}/reference.jsonl", f"{SAMPLE}/peer_reports.jsonl"


def criteria_count(prompt):
    return len(re.findall(r"^\d+\. ", prompt, re.MULTILINE))


def scores_reply(target, reference):
    def script(request):
        n = criteria_count(request.prompt)
        return json.dumps({"scores": [{"criterion": i, "target": target, "reference": reference}
                                      for i in range(1, n + 1)]})
    return script


def test_race_arithmetic_worked_example():
    task = TaskCriteria("t", "q", {"comprehensiveness": 0.6, "insight": 0.4}, {
        "comprehensiveness": [Criterion("a", weight=0.7), Criterion("b", weight=0.3)],
        "insight": [Criterion("c", weight=1.0)]})
    result = race_score(task, {"comprehensiveness": {1: (8, 6), 2: (4, 8)}, "insight": {1: (5, 5)}})
    # comprehensiveness: target 0.7*8 + 0.3*4 = 6.8, reference 0.7*6 + 0.3*8 = 6.6; insight 5 and 5.
    # totals: target 0.6*6.8 + 0.4*5 = 6.08, reference 0.6*6.6 + 0.4*5 = 5.96; overall 6.08 / 12.04.
    assert result["dimensions"]["comprehensiveness"]["target"] == pytest.approx(6.8)
    assert result["dimensions"]["comprehensiveness"]["score"] == pytest.approx(100 * 6.8 / 13.4)
    assert result["target_total"] == pytest.approx(6.08) and result["reference_total"] == pytest.approx(5.96)
    assert result["overall"] == pytest.approx(100 * 6.08 / 12.04)
    # A criterion the judge left out: the dimension's mean uses the weights of those it scored.
    partial = race_score(task, {"comprehensiveness": {2: (4, 8)}, "insight": {1: (5, 5)}})
    assert partial["dimensions"]["comprehensiveness"]["target"] == pytest.approx(4)
    assert partial["overall"] == pytest.approx(100 * (0.6 * 4 + 2) / (0.6 * 4 + 2 + 0.6 * 8 + 2))


def test_benchmark_criteria_file_loads_both_languages():
    tasks = {t.task_id: t for t in load_criteria(CRITERIA)}
    assert set(tasks) == {"1", "58"}
    for task in tasks.values():
        assert set(task.criteria) == {"comprehensiveness", "insight", "instruction_following", "readability"}
        assert sum(task.dimension_weight.values()) == pytest.approx(1.0)
        for criteria in task.criteria.values():
            assert sum(c.weight for c in criteria) == pytest.approx(1.0)
    assert "阶层" in tasks["1"].criteria["comprehensiveness"][0].criterion


def test_race_with_a_scripted_judge_on_the_sample(tmp_path):
    backend = ScriptedBackend(scores_reply(6, 8), context_window=32768)
    reference = tmp_path / "ref.md"
    reference.write_text("# Reference\n\nA reference report for every task.\n")
    result = evaluate([PEERS], judge=backend, criteria=CRITERIA, reference=reference, fact_max=0)
    for report in result.reports:
        race = report.race
        assert race["overall"] == pytest.approx(100 * 6 / 14)
        assert all(d["scored"] == d["criteria"] for d in race["dimensions"].values())
        judged = [result.judgements[i - 1] for i in race["judgements"]]
        assert len(judged) == 4 and all(j.kind == "race" and j.reply and j.parsed for j in judged)
        assert all(report.record.query[:20] in j.prompt for j in judged)
    zh = [j for j in result.judgements if j.subject.startswith("peer_reports:1 ")]
    assert all("评估标准" in j.prompt for j in zh)  # the Chinese task gets the Chinese prompt
    assert all(r.grammar and r.grammar.startswith('root ::= "{\\"scores\\"') for r in backend.requests)
    # The benchmark's own reference file covers task 58 only: task 1 is skipped with a note.
    matched = evaluate([PEERS], judge=ScriptedBackend(scores_reply(5, 5), context_window=32768),
                       criteria=CRITERIA, reference=REFERENCE)
    assert matched.reports[1].race["overall"] == pytest.approx(50.0)
    assert matched.reports[0].race is None and "no reference report" in matched.reports[0].notes[0]


def test_race_prompts_are_shortened_to_the_judge_context():
    backend = ScriptedBackend(scores_reply(7, 7), context_window=4096, supports_grammar=False)
    result = evaluate([PEERS], judge=backend, criteria=CRITERIA, reference=REFERENCE, judge_max_tokens=256)
    race = [j for j in result.judgements if j.kind == "race"]
    assert race and all(j.truncated and backend.count_tokens(j.prompt) <= 4096 - 256 for j in race)
    assert all(r.grammar is None for r in backend.requests)


def test_scores_parsed_from_messy_replies():
    criteria = [Criterion("Breadth"), Criterion("Depth"), Criterion("Clarity")]
    fenced = ('Sure.\n```json\n{"scores": [{"criterion": "Breadth", "article_1_score": 7, "article_2_score": 5},'
              ' {"criterion": 2, "target": "6.5", "reference": 9}]}\n```')
    assert parse_scores(fenced, criteria) == {1: (7.0, 5.0), 2: (6.5, 9.0)}
    assert parse_scores('<think>hmm</think>{"scores": [{"criterion": 3, "target": 4, "reference": 8', criteria) == {
        3: (4.0, 8.0)}
    assert parse_scores("1: target 8, reference 6\n2 - 7 / 7", criteria) == {1: (8.0, 6.0), 2: (7.0, 7.0)}
    with pytest.raises(ValueError):
        parse_scores("I cannot judge these reports.", criteria)


def test_unparsable_race_reply_is_kept_and_the_rest_scored():
    replies = iter(['{"scores": []}', "no idea",
                    json.dumps({"scores": [{"criterion": 1, "target": 9, "reference": 3}]}), "1: 4 and 4"])
    backend = ScriptedBackend(lambda request: next(replies), context_window=32768)
    result = evaluate([PEERS], judge=backend, criteria=CRITERIA, reference=REFERENCE, fact_max=0)
    race = result.reports[1].race
    assert len(race["errors"]) == 2 and race["overall"] is not None
    failed = [result.judgements[i - 1] for i in race["judgements"] if result.judgements[i - 1].error]
    assert [j.reply for j in failed] == ['{"scores": []}', "no idea"]


def test_grammar_is_valid_gbnf():
    xgrammar = pytest.importorskip("xgrammar")
    from jupyter_warp.evaluate.fact import FACT_GRAMMAR
    from jupyter_warp.evaluate.pairwise import WINNER_GRAMMAR

    for gbnf in (scores_grammar(1), scores_grammar(9), FACT_GRAMMAR, WINNER_GRAMMAR):
        xgrammar.Grammar.from_ebnf(gbnf)


def fact_script(request):
    """Supported exactly when the statement's first five words occur in the passage."""
    statement = request.prompt.split("Statement:\n", 1)[1].split("\n", 1)[0]
    passage = request.prompt.split("):\n", 1)[1].split("\n\nAnswer", 1)[0]
    supported = " ".join(statement.split()[:5]) in passage
    return json.dumps({"verdict": "supported" if supported else "unsupported"})


def test_fact_with_a_scripted_judge(tmp_path):
    make_run(tmp_path / "r")
    backend = ScriptedBackend(fact_script)
    result = evaluate([tmp_path / "r"], judge=backend)
    fact = result.reports[0].fact
    # Pairs (sentence, key), once each: copied try [supported], invented, chaining paragraph
    # (written twice, judged once) [supported], instruction phrase.
    assert (fact["pairs"], fact["judged"], fact["supported"], fact["accuracy"]) == (4, 4, 2, 0.5)
    assert all(r.grammar and "unsupported" in r.grammar for r in backend.requests)
    limited = evaluate([tmp_path / "r"], judge=ScriptedBackend(fact_script), fact_max=2).reports[0].fact
    assert (limited["pairs"], limited["judged"]) == (4, 2)


def submission(label, query, article):
    return ReportRecord(id=label, kind="submission", source="-", query=query, article=article, group=label,
                        task_id="7")


def test_pairwise_cancels_position_bias():
    a = submission("A", "q", "# Report\n\nThe better report mentions MARKER.")
    b = submission("B", "q", "# Report\n\nThe other report.")
    always_first = evaluate([a, b], judge=ScriptedBackend(lambda r: '{"winner": "1"}'), pairwise=True)
    assert always_first.pairwise["tie"] == 1 and always_first.pairwise["win_rate"] == 0.5

    def prefers_marker(request):
        first = request.prompt.split("<report_1>", 1)[1].split("</report_1>", 1)[0]
        return '{"winner": "1"}' if "MARKER" in first else "Report 2 is better."
    result = evaluate([a, b], judge=ScriptedBackend(prefers_marker), pairwise=True)
    row = result.pairwise["questions"][0]
    assert (row["a_first"], row["b_first"], row["outcome"]) == ("1", "2", "win")
    assert result.pairwise["win"] == 1 and result.pairwise["win_rate"] == 1.0
    assert "pairwise A vs B: 1 wins" in result.table()


def test_outcomes_and_winner_parsing():
    assert outcome("1", "1") == ("tie", 0.5) and outcome("2", "1") == ("loss", 0.0)
    assert outcome(None, "2") == ("win", 1.0) and outcome(None, None) == ("unknown", None)
    assert parse_winner('```json\n{"winner": 2}\n```') == "2" and parse_winner("It is a tie.") == "tie"
    assert parse_winner("报告1更好") == "1"


def test_a_judge_that_dies_leaves_what_was_measured(tmp_path):
    make_run(tmp_path / "r")

    class Dies(ScriptedBackend):
        def generate(self, requests):
            raise BackendUnavailableError("judge server at http://127.0.0.1:9 did not answer")

    result = evaluate([tmp_path / "r"], judge=Dies(fact_script))
    assert "did not answer" in result.incomplete
    assert result.reports[0].metrics["supported_share"] == pytest.approx(0.6)


def test_judge_options_check_the_window():
    with pytest.raises(Exception, match="leaves no room"):
        Judge(ScriptedBackend(fact_script, context_window=512), max_tokens=400)
