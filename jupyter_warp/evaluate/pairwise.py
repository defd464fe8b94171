"""Pairwise comparison of two systems (DeepConsult-style): win, tie or loss per question.

Reports of side A and side B are paired by benchmark id, else by the question's text.
Each pair is judged twice, A shown first and then B shown first, so a judge that prefers a
position cancels out: A scores 1 for a win, 0.5 for a tie and 0 for a loss in each order,
and the mean over the orders above, at or below 0.5 is a win, a tie or a loss.
"""

from __future__ import annotations

import re
from typing import Any

from . import text as T
from .judge import Ask, Judge, Judgement, ParseError, reply_json
from .records import ReportRecord

WINNER_GRAMMAR = 'root ::= "{\\"winner\\": \\"" ("1" | "2" | "tie") "\\"}"'
_WORD = re.compile(r"\b(tie|report[ _]?1|report[ _]?2|1|2)\b|平局|报告\s*([12])", re.IGNORECASE)


def parse_winner(reply: str) -> str:
    """``"1"``, ``"2"`` or ``"tie"``: JSON ``winner`` first, then the first such word."""
    try:
        data = reply_json(reply)
        value = str(data.get("winner", "")).strip().lower() if isinstance(data, dict) else ""
    except ParseError:
        value = ""
    if value in ("1", "2", "tie"):
        return value
    match = _WORD.search(value or reply)
    if not match:
        raise ParseError("no winner in the reply")
    word = (match.group(1) or match.group(2) or "tie").lower()
    return "tie" if word == "tie" or "平局" in match.group(0) else word[-1]


def _key(record: ReportRecord) -> str:
    return record.task_id if record.task_id is not None else " ".join(record.query.split())


def pair_reports(side_a: list[ReportRecord], side_b: list[ReportRecord]) -> list[tuple[ReportRecord, ReportRecord]]:
    """Reports answering the same question on both sides, in side A's order."""
    by_id = {r.task_id: r for r in side_b if r.task_id is not None}
    by_query = {" ".join(r.query.split()): r for r in side_b}
    pairs = []
    for a in side_a:
        b = by_id.get(a.task_id) if a.task_id is not None else None
        b = b or by_query.get(" ".join(a.query.split()))
        if b is not None:
            pairs.append((a, b))
    return pairs


def pairwise_asks(judge: Judge, a: ReportRecord, b: ReportRecord) -> list[Ask]:
    """Two judgements: A first, then B first."""
    language = T.language_of(a.query) or "en"
    asks = []
    for first, second, order in ((a, b, "A first"), (b, a, "B first")):
        prompt, cut = judge.fit("pairwise", {"first": T.clean_article(first.article),
                                             "second": T.clean_article(second.article)},
                                task=a.query, language=language)
        asks.append(Ask("pairwise", f"{a.label} vs {b.label} / {order}", prompt, judge.grammar(WINNER_GRAMMAR),
                        parse_winner, truncated=cut))
    return asks


def outcome(a_first: str | None, b_first: str | None) -> tuple[str, float | None]:
    """A's outcome from the two orders' winners (``None``: that order was unparsable)."""
    points = []
    if a_first is not None:
        points.append({"1": 1.0, "2": 0.0, "tie": 0.5}[a_first])
    if b_first is not None:
        points.append({"1": 0.0, "2": 1.0, "tie": 0.5}[b_first])
    if not points:
        return "unknown", None
    score = sum(points) / len(points)
    return ("win" if score > 0.5 else "loss" if score < 0.5 else "tie"), score


def pairwise_result(pairs: list[tuple[ReportRecord, ReportRecord]], judgements: list[Judgement],
                    names: tuple[str, str]) -> dict[str, Any]:
    """Per question and in total, from two judgements per pair (A first, B first)."""
    rows = []
    totals = {"win": 0, "tie": 0, "loss": 0, "unknown": 0}
    for n, (a, b) in enumerate(pairs):
        first, second = judgements[2 * n], judgements[2 * n + 1]
        result, score = outcome(first.parsed if first.error is None else None,
                                second.parsed if second.error is None else None)
        totals[result] += 1
        rows.append({"question": _key(a), "a": a.label, "b": b.label, "a_first": first.parsed,
                     "b_first": second.parsed, "outcome": result, "score": score,
                     "judgements": [first.id, second.id]})
    decided = totals["win"] + totals["tie"] + totals["loss"]
    return {"a": names[0], "b": names[1], **totals,
            "win_rate": (totals["win"] + 0.5 * totals["tie"]) / decided if decided else None, "questions": rows}
