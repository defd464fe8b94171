"""FACT-style citation accuracy: does each cited passage support the sentence citing it?

Every (sentence, cited passage) pair of a report is a candidate, once; at most ``fact_max``
of them are judged, spread evenly through the report. ``accuracy`` is the share of judged
pairs the judge called supported (DeepResearch Bench's citation accuracy), ``supported``
their number (its effective citations). Reports without passages (submissions) are skipped.
"""

from __future__ import annotations

import re
from typing import Any

from . import text as T
from .judge import Ask, Judge, Judgement, ParseError, reply_json
from .records import ReportRecord

FACT_GRAMMAR = 'root ::= "{\\"verdict\\": \\"" ("supported" | "unsupported") "\\"}"'
_NEGATIVE = re.compile(r"\bunsupported\b|\bnot supported\b|\bdoes not support\b|不支持|无法支持|未支持", re.IGNORECASE)
_POSITIVE = re.compile(r"\bsupported\b|\bsupports\b|支持", re.IGNORECASE)


def parse_verdict(reply: str) -> bool:
    """True for supported; JSON ``verdict`` first, then the words in the reply."""
    try:
        data = reply_json(reply)
        verdict = str(data.get("verdict", "")) if isinstance(data, dict) else ""
    except ParseError:
        verdict = reply
    if _NEGATIVE.search(verdict):
        return False
    if _POSITIVE.search(verdict):
        return True
    first = reply.strip().lower()[:8]
    if first.startswith(("yes", "是")):
        return True
    if first.startswith(("no", "否")):
        return False
    raise ParseError("no verdict in the reply")


def citation_pairs(record: ReportRecord) -> list[tuple[str, str, int]]:
    """``(position, sentence, key)`` for every sentence and each valid key it cites, once."""
    pairs: dict[tuple[str, int], str] = {}
    for section in record.sections:
        if T.is_reference_title(section.title):
            continue
        for sentence in T.sentences(section.text, T.citable_keys(record, section)):
            for key in dict.fromkeys(sentence.keys):
                if T.valid_citation(record, section, key):
                    pairs.setdefault((sentence.text, key), section.position)
    return [(position, sentence, key) for (sentence, key), position in pairs.items()]


def spread(items: list[Any], limit: int) -> list[Any]:
    """At most ``limit`` items, evenly spaced, in order."""
    if len(items) <= limit:
        return list(items)
    return [items[i * len(items) // limit] for i in range(limit)]


def fact_asks(judge: Judge, record: ReportRecord, fact_max: int) -> tuple[list[Ask], int]:
    """The judgements to ask for a report, and how many pairs it has in all."""
    pairs = citation_pairs(record)
    language = T.language_of(record.query) or "en"
    asks = []
    for position, sentence, key in spread(pairs, fact_max):
        passage = record.passages[key]
        prompt, cut = judge.fit("fact", {"passage": passage.text}, statement=sentence,
                                location=passage.location or passage.doc, language=language)
        asks.append(Ask("fact", f"{record.label} / {position} / [{key}]", prompt, judge.grammar(FACT_GRAMMAR),
                        parse_verdict, truncated=cut))
    return asks, len(pairs)


def fact_result(judgements: list[Judgement], pairs: int) -> dict[str, Any]:
    """The FACT figures: the share of judged citations that the judge found supported."""
    verdicts = [j.parsed for j in judgements if j.error is None]
    supported = sum(1 for v in verdicts if v)
    return {
        "pairs": pairs,
        "judged": len(judgements),
        "supported": supported,
        "accuracy": supported / len(verdicts) if verdicts else None,
        "unparsed": len(judgements) - len(verdicts),
        "judgements": [j.id for j in judgements],
    }
