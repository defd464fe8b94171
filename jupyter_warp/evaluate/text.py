"""Text units the model-free metrics count: sentences, citation markers, words, terms.

Citation markers are read as the engine reads them (``jupyter_warp.citations``): every
syntax it accepts (``[7]``, ``[7, 2]``, ``[1-3]``, ``【7】``, ``[textid7]``,
``\\cite{textid7}``), and a bare bracket of numbers only where it names a key the section
may cite (``[2019]`` in a sentence stays text), so the metrics and the engine agree.

Everything here is deterministic. Latin-script text is split into runs of letters and
digits; Chinese (and Japanese) runs are segmented into words by jieba (its default,
accurate mode), so "words" of a Chinese report are jieba's words. Content terms drop stop
words (the ``stopwords`` package's English and Chinese lists and Whoosh's, single Latin
letters, single CJK characters)
and stem English with Snowball, as the index does, so "transfers" matches "transfer".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..citations import CitationRun, citation_runs
from ..corpus.analysis import CJK, segmenter
from ..machine.text import is_content, stem

if TYPE_CHECKING:
    from .records import ReportRecord, Section

_CJK_RUN = re.compile(rf"([{CJK}]+)|([^\W{CJK}_]+(?:[.'][^\W{CJK}_]+)*)")
_CJK_CHAR = re.compile(rf"[{CJK}]")
_LATIN = re.compile(r"[A-Za-z]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=[。！？；])")
_LIST_PREFIX = re.compile(r"^\s*(?:[-*+>]|\d+[.)]|#+)\s+")
_EMPHASIS = re.compile(r"[*_`]{1,3}")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")
_REFERENCE_TITLES = {"references", "reference", "bibliography", "sources", "works cited",
                     "参考文献", "参考资料", "引用"}
STATEMENT_MIN_TERMS = 4
"""A sentence with at least this many content terms states something (and should cite)."""


def language_of(text: str) -> str | None:
    """``zh`` or ``en`` by script, None for text without letters.

    A CJK character counts as three Latin letters (about one word each way), so a Chinese
    sentence naming "GDP" or "Python" stays Chinese and an English sentence quoting a
    Chinese term stays English.
    """
    cjk = len(_CJK_CHAR.findall(text))
    latin = len(_LATIN.findall(text))
    if not cjk and not latin:
        return None
    return "zh" if 3 * cjk >= latin else "en"


def words(text: str, citable: Iterable[int] | None = None) -> list[str]:
    """Lower-case words in reading order (citations left out): Latin runs as they are, CJK
    runs by jieba."""
    out: list[str] = []
    for match in _CJK_RUN.finditer(strip_markers(text, citable)):
        if match.group(1):
            out += [w for w in segmenter().lcut(match.group(1)) if w.strip()]
        else:
            out.append(match.group(2).lower())
    return out


def terms(word_list: Iterable[str]) -> list[str]:
    """Content terms of a word list, in order: stop words dropped, English stemmed."""
    return [w if _CJK_CHAR.match(w) else stem(w) for w in word_list if is_content(w)]


Citable = Iterable[int] | None
"""The keys a bare bracket of numbers may cite (None: any number cites)."""


def marker_keys(text: str, citable: Citable = None) -> list[int]:
    """Citation keys in ``text``, in order, repeats kept (each is one marker)."""
    return [k for run in citation_runs(text, citable) for k in run.keys]


def _without(text: str, runs: list[CitationRun]) -> str:
    out, last = [], 0
    for run in runs:
        out.append(text[last:run.start])
        last = run.end
    return re.sub(r"[ \t]+([.,;:。，；：])", r"\1", "".join(out) + text[last:])


_REFERENCE_LINE = re.compile(r"^\s*(?:\[(\d+)\]|(\d+)[.)])\s", re.MULTILINE)


def citable_keys(record: ReportRecord, section: Section) -> list[int] | None:
    """The keys a bare bracket of numbers in ``section`` may cite, as the engine reads
    citations: those shown to its writer, else every passage of the run; for a
    submission, the numbers its reference list gives (None: any number cites)."""
    if section.shown is not None:
        return list(section.shown)
    if record.passages:
        return list(record.passages)
    listed = [int(a or b) for s in record.sections if is_reference_title(s.title)
              for a, b in _REFERENCE_LINE.findall(s.text)]
    return listed or None


def valid_citation(record: ReportRecord, section: Section, key: int) -> bool:
    """Whether ``key`` names a passage of the run that ``section`` may cite: one shown to its
    writer, or any passage where the section does not record what it was shown."""
    return key in record.passages and (section.shown is None or key in section.shown)


def strip_markers(text: str, citable: Citable = None) -> str:
    """``text`` without its citation markers (and the space before each)."""
    return _without(text, citation_runs(text, citable))


@dataclass
class Sentence:
    """One sentence as the metrics count it: its text and the citation keys it carries."""

    text: str
    """The sentence without its citation markers or Markdown emphasis."""
    keys: list[int] = field(default_factory=list)
    """Keys it cites, in order (repeats kept: each is one marker)."""

    @property
    def words(self) -> list[str]:
        """The sentence's words (see ``words``)."""
        return words(self.text)


def blocks(text: str) -> list[str]:
    """Paragraphs and list items of Markdown body text; headings, rules, fences and code dropped."""
    out: list[str] = []
    paragraph: list[str] = []
    fenced = False

    def flush() -> None:
        if paragraph:
            out.append(" ".join(paragraph))
            paragraph.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
            flush()
            continue
        if fenced or not stripped or stripped.startswith("#") or _TABLE_RULE.match(stripped):
            flush()
            continue
        if _LIST_PREFIX.match(stripped) or stripped.startswith("|"):
            flush()
            out.append(_LIST_PREFIX.sub("", stripped).replace("|", " "))
            continue
        paragraph.append(stripped)
    flush()
    return [b for b in out if b.strip()]


def _leading(piece: str, runs: list[CitationRun]) -> int:
    """Where the citations that open ``piece`` end (and a full stop after them), or 0."""
    at = len(piece) - len(piece.lstrip())
    for run in runs:
        if piece[at:run.start].strip():
            break
        at = max(at, run.end)
    if at == len(piece) - len(piece.lstrip()):
        return 0
    return at + 1 if piece[at:at + 1] in (".", "。") else at


def sentences(text: str, citable: Citable = None) -> list[Sentence]:
    """Sentences of Markdown text with the citations each carries (``citable``: the keys a
    bare bracket of numbers may cite).

    Splits after ``. ! ?`` followed by a space and after ``。！？；``; a marker placed after
    the full stop (``fact. [3] Next``) belongs to the sentence before it.
    """
    citable = None if citable is None else list(citable)
    out: list[Sentence] = []
    for block in blocks(text):
        pieces = [p for p in _SENTENCE_END.split(_EMPHASIS.sub("", block)) if p and p.strip()]
        for piece in pieces:
            runs = citation_runs(piece, citable)
            lead = _leading(piece, runs)
            if lead and out:
                out[-1].keys += [k for run in runs if run.end <= lead for k in run.keys]
                piece = piece[lead:]
                runs = citation_runs(piece, citable)
            if not piece.strip():
                continue
            clean = _without(piece, runs).strip()
            if clean:
                out.append(Sentence(text=clean, keys=[k for run in runs for k in run.keys]))
    return out


def is_statement(sentence: Sentence, sentence_terms: list[str]) -> bool:
    """A sentence that asserts something: enough content terms (``sentence_terms``, which
    the caller has already counted), not a question."""
    if sentence.text.rstrip().endswith(("?", "？")):
        return False
    return len(sentence_terms) >= STATEMENT_MIN_TERMS


def is_reference_title(title: str) -> bool:
    """Whether a heading names a reference list, which the metrics leave out of the text."""
    return title.strip().strip("#*: ").lower() in _REFERENCE_TITLES


def clean_article(article: str) -> str:
    """A report as a judge should read it: citation markers and a closing reference list
    removed, as DeepResearch Bench cleans articles before RACE."""
    lines = article.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#") and is_reference_title(stripped.lstrip("#")):
            lines = lines[:i]
            break
    return strip_markers("\n".join(lines)).strip()
