"""Model-free metrics of one report: deterministic, no model, a second or two a report.

How each is computed (``text.py`` defines sentences, words and content terms):

- ``citation_validity``: markers that resolve to a passage shown for their section (the
  writer's passages for that step), over all markers. None when nothing cites or nothing
  can be resolved (a submission has no passages).
- ``citation_support``: for each sentence that cites, the share of its content terms found
  in its cited passages, averaged with the share of its adjacent term pairs found there
  (so a sentence built from the passage's words in another order scores lower than a
  copied one); the report's value is the mean over cited sentences.
- ``supported_share``: cited sentences whose support is at least ``threshold`` (0.5).
- ``uncited_statements``: sentences that state something (at least four content terms,
  not a question) and cite nothing, over all such sentences.
- ``repetition``: word 4-grams that already occurred earlier in the report, over all
  4-grams; ``repeated_paragraphs`` counts paragraphs (30 characters or more) that repeat
  an earlier one word for word.
- ``instruction_copy``: words that lie inside a five-word phrase of the prompt templates,
  over all words (``instructions.py``); ``copied_phrases`` lists the longest such runs.
- ``language_match``: sentences written in the question's language (``text.language_of``).
- structure: top-level ``sections``, ``nodes``, ``max_depth``, ``extends``, ``written`` and
  ``failed`` nodes, ``words`` and ``words_per_section`` (mean over nodes with text).
- sources: distinct passages (``sources_cited``) and documents (``docs_cited``) cited,
  ``source_diversity`` (entropy of citations over documents divided by its maximum,
  0 = one document, 1 = evenly spread) and ``top_source_share``. A submission's sources
  are the URLs in its text, its documents their hosts.
- ``question_terms_covered``: content terms of the question that occur in the report.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from ..machine.text import REPEAT_N, ngrams
from . import text as T
from .instructions import InstructionPhrases, copied_spans
from .records import ReportRecord, Section

THRESHOLD = 0.5
_URL = re.compile(r"https?://[^\s)\]>\"'，。]+")

REPORT_METRICS: dict[str, str] = {
    "citation_validity": "citation markers resolving to a passage shown for their section",
    "citation_support": "mean lexical support of cited sentences by their passages",
    "supported_share": "cited sentences with support >= threshold",
    "uncited_statements": "statements that cite nothing",
    "repetition": "word 4-grams repeating earlier text",
    "repeated_paragraphs": "paragraphs repeated word for word",
    "instruction_copy": "words inside a phrase of the prompt templates",
    "language_match": "sentences in the question's language",
    "question_terms_covered": "question terms found in the report",
    "sections": "top-level sections",
    "nodes": "sections and subsections",
    "max_depth": "deepest level",
    "extends": "deepening rounds used",
    "failed": "sections the model failed to write",
    "words": "words in the report",
    "words_per_section": "mean words of a written section",
    "citation_markers": "citation markers",
    "cited_sentences": "sentences that cite",
    "sources_cited": "distinct passages (or URLs) cited",
    "docs_cited": "distinct documents (or hosts) cited",
    "source_diversity": "normalised entropy of citations over documents",
    "top_source_share": "citations going to the most-cited document",
}
"""Report-level metrics in table order, with one line on each."""


@dataclass
class _PassageTerms:
    unigrams: frozenset[str]
    bigrams: frozenset[tuple[str, ...]]


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def support(sentence_terms: list[str], passages: list[_PassageTerms]) -> float:
    """How much of a sentence its cited passages contain (0 to 1; see the module doc)."""
    if not sentence_terms or not passages:
        return 0.0
    uni = set().union(*(p.unigrams for p in passages))
    bi = set().union(*(p.bigrams for p in passages))
    uni_recall = sum(t in uni for t in sentence_terms) / len(sentence_terms)
    pairs = ngrams(sentence_terms, 2)
    if not pairs:
        return uni_recall
    return (uni_recall + sum(p in bi for p in pairs) / len(pairs)) / 2


class ReportMetrics:
    """Computes the metrics of one report; ``run()`` returns them as plain JSON data."""

    def __init__(self, record: ReportRecord, phrases: InstructionPhrases, threshold: float = THRESHOLD) -> None:
        self.record = record
        self.phrases = phrases
        self.threshold = threshold
        self.language = T.language_of(record.query) or "en"
        self._passage_terms: dict[int, _PassageTerms] = {}

    def _terms_of(self, key: int) -> _PassageTerms | None:
        passage = self.record.passages.get(key)
        if passage is None:
            return None
        if key not in self._passage_terms:
            terms = T.terms(T.words(passage.text))
            self._passage_terms[key] = _PassageTerms(frozenset(terms), frozenset(ngrams(terms, 2)))
        return self._passage_terms[key]

    def body_sections(self) -> list[Section]:
        """The sections other than the reference list: only they are measured as text."""
        return [s for s in self.record.sections if not T.is_reference_title(s.title)]

    def run(self) -> dict[str, Any]:
        """All metrics: ``metrics`` (report level), ``sections`` (one row each) and ``copied_phrases``."""
        sections_out = []
        totals: Counter[str] = Counter()
        supports: list[float] = []
        seen: set[tuple[str, ...]] = set()
        paragraphs: set[str] = set()
        copied: list[str] = []
        report_terms: set[str] = set(T.terms(T.words(self.record.title)))
        for section in self.body_sections():
            row, section_supports = self.section(section, totals, seen, paragraphs, copied, report_terms)
            supports += section_supports
            sections_out.append(row)
        query_terms = set(T.terms(T.words(self.record.query)))
        metrics: dict[str, Any] = {
            "citation_validity": _ratio(totals["valid"], totals["resolvable"]),
            "citation_support": _mean(supports),
            "supported_share": _ratio(sum(s >= self.threshold for s in supports), len(supports)),
            "uncited_statements": _ratio(totals["uncited_statements"], totals["statements"]),
            "repetition": _ratio(totals["repeated_ngrams"], totals["ngrams"]) or 0.0,
            "repeated_paragraphs": totals["repeated_paragraphs"],
            "instruction_copy": _ratio(totals["copied_words"], totals["words"]) or 0.0,
            "language_match": _ratio(totals["language_match"], totals["with_language"]),
            "question_terms_covered": _ratio(len(query_terms & report_terms), len(query_terms)),
            **self._structure(sections_out),
            "citation_markers": totals["markers"],
            "cited_sentences": totals["cited_sentences"],
            **self._sources(),
        }
        copied.sort(key=lambda p: (-len(p), p))
        return {"metrics": metrics, "sections": sections_out, "copied_phrases": list(dict.fromkeys(copied))[:10],
                "language": self.language, "threshold": self.threshold}

    def section(self, section: Section, totals: Counter[str], seen: set[tuple[str, ...]], paragraphs: set[str],
                copied: list[str], report_terms: set[str]) -> tuple[dict[str, Any], list[float]]:
        """One section's row; adds its counts to ``totals`` and what later sections must
        not repeat to ``seen`` and ``paragraphs``. Returns the row and its sentences' support."""
        c: Counter[str] = Counter()
        supports: list[float] = []
        citable = T.citable_keys(self.record, section)
        said = T.sentences(section.text, citable)
        for sentence in said:
            sentence_terms = T.terms(sentence.words)
            report_terms.update(sentence_terms)
            language = T.language_of(sentence.text)
            if language:
                c["with_language"] += 1
                c["language_match"] += language == self.language
            if sentence.keys:
                c["markers"] += len(sentence.keys)
                c["cited_sentences"] += 1
                if self.record.passages:
                    c["resolvable"] += len(sentence.keys)
                    c["valid"] += sum(T.valid_citation(self.record, section, k) for k in sentence.keys)
                    cited = [p for p in (self._terms_of(k) for k in dict.fromkeys(sentence.keys)) if p]
                    supports.append(support(sentence_terms, cited))
            if T.is_statement(sentence, sentence_terms):
                c["statements"] += 1
                c["uncited_statements"] += not sentence.keys
        section_words = T.words(section.text, citable)
        c["words"] = len(section_words)
        for gram in ngrams(section_words, REPEAT_N):
            c["ngrams"] += 1
            c["repeated_ngrams"] += gram in seen
            seen.add(gram)
        for block in T.blocks(section.text):
            norm = " ".join(T.strip_markers(block, citable).lower().split())
            if len(norm) >= 30:
                c["repeated_paragraphs"] += norm in paragraphs
                paragraphs.add(norm)
        flags = self.phrases.copied(section_words)
        c["copied_words"] = sum(flags)
        copied += copied_spans(section_words, flags)
        totals.update(c)
        row = {
            "position": section.position, "title": section.title, "depth": section.depth, "status": section.status,
            "words": c["words"], "sentences": len(said), "citation_markers": c["markers"],
            "citation_validity": _ratio(c["valid"], c["resolvable"]),
            "citation_support": _mean(supports),
            "supported_share": _ratio(sum(s >= self.threshold for s in supports), len(supports)),
            "uncited_statements": _ratio(c["uncited_statements"], c["statements"]),
            "repetition": _ratio(c["repeated_ngrams"], c["ngrams"]) or 0.0,
            "instruction_copy": _ratio(c["copied_words"], c["words"]) or 0.0,
            "language_match": _ratio(c["language_match"], c["with_language"]),
        }
        return row, supports

    def text_support(self, text: str, keys: list[int]) -> float | None:
        """Supported share of the cited sentences of ``text`` against the passages ``keys``
        (export filters a write step by its own section's support; the record's passage
        terms are computed once for all its steps)."""
        section = Section(position="", title="", depth=1, text=text, shown=list(keys))
        row, _ = self.section(section, Counter(), set(), set(), [], set())
        share: float | None = row["supported_share"]
        return share

    def _structure(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        written = [r["words"] for r in rows if r["words"]]
        return {
            "sections": sum(1 for r in rows if r["depth"] == 1),
            "nodes": sum(1 for r in rows if r["depth"] >= 1),
            "max_depth": max((r["depth"] for r in rows), default=0),
            "extends": self.record.extend_count,
            "written": len(written),
            "failed": sum(1 for r in rows if r["status"] == "failed"),
            "words": sum(written),
            "words_per_section": _mean([float(w) for w in written]),
        }

    def _sources(self) -> dict[str, Any]:
        """Citations per document; a submission's URLs and hosts stand in for passages and documents."""
        if self.record.passages:
            cited = [k for s in self.body_sections() for k in T.marker_keys(s.text, T.citable_keys(self.record, s))
                     if T.valid_citation(self.record, s, k)]
            docs = Counter(self.record.passages[k].doc or str(k) for k in cited)
            distinct = len(set(cited))
        else:
            urls = [u.rstrip(".,;") for s in self.body_sections() for u in _URL.findall(s.text)]
            urls += [u.rstrip(".,;") for s in self.record.sections if T.is_reference_title(s.title)
                     for u in _URL.findall(s.text)]
            docs = Counter(urlparse(u).netloc.lower() for u in urls)
            distinct = len(set(urls))
        total = sum(docs.values())
        if not total:
            return {"sources_cited": 0, "docs_cited": 0, "source_diversity": None, "top_source_share": None}
        entropy = -sum(n / total * math.log(n / total) for n in docs.values())
        return {
            "sources_cited": distinct,
            "docs_cited": len(docs),
            "source_diversity": entropy / math.log(len(docs)) if len(docs) > 1 else 0.0,
            "top_source_share": max(docs.values()) / total,
        }


def report_metrics(record: ReportRecord, phrases: InstructionPhrases, threshold: float = THRESHOLD) -> dict[str, Any]:
    """The model-free metrics of ``record``: ``metrics`` (report level), ``sections``, ``copied_phrases``."""
    return ReportMetrics(record, phrases, threshold).run()
