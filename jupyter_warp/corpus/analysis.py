"""Text analysis for the index: English stemming plus Chinese/Japanese segmentation in one field.

Whoosh's analyzers treat a run of Chinese characters as one "word". Here a single tokenizer
splits text into runs: Han and kana runs go to jieba (search mode, so both words and their
parts are terms), every other run of letters and digits is a word (dots split, so
``os.path`` gives ``os`` and ``path``). Lowercasing, English stop words and Snowball
stemming follow; CJK terms pass through them unchanged, so English ranking is what it would
be without the CJK path. The analyzer is pickled into the index's schema: keep this module's
path and class names stable (and bump ``store.FORMAT`` when the analysis changes).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Filter, LowercaseFilter, StemFilter, Token, Tokenizer
from whoosh.analysis.analyzers import CompositeAnalyzer
from whoosh.analysis.filters import STOP_WORDS

CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
"""Hiragana, katakana and Han ideographs: scripts written without spaces between words."""

_RUN = re.compile(rf"([{CJK}]+)|([^\W{CJK}]+)")
_CJK_CHAR = re.compile(rf"[{CJK}]")

_jieba: Any = None


def segmenter() -> Any:
    """jieba, loaded on the first CJK text (it reads its dictionary, about a second)."""
    global _jieba
    if _jieba is None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        _jieba = jieba
    return _jieba


def _cjk_pieces(run: str) -> list[tuple[str, int, int]]:
    """Words and sub-words of a CJK run, with offsets, in reading order."""
    pieces = list(segmenter().tokenize(run, mode="search"))
    pieces.sort(key=lambda p: (p[1], p[2]))
    return pieces


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds CJK characters, which jieba rather than spaces splits into words."""
    return _CJK_CHAR.search(text) is not None


class WarpTokenizer(Tokenizer):  # type: ignore[misc]  # whoosh ships no types
    """Runs of letters and digits for Latin, Cyrillic, Hangul...; jieba words for CJK."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        """Whoosh's tokenizer protocol: yield one reused ``Token`` per word of ``value``."""
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar = start_char
                t.endchar = start_char + len(value)
            yield t
            return
        pos = start_pos
        for match in _RUN.finditer(value):
            if match.group(1):
                base = match.start()
                pieces = _cjk_pieces(match.group(1))
            else:
                base = 0
                pieces = [(match.group(2), match.start(), match.end())]
            for text, s, e in pieces:
                t.text = text
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = text
                if positions:
                    t.pos = pos
                if chars:
                    t.startchar = start_char + base + s
                    t.endchar = start_char + base + e
                pos += 1
                yield t


class WarpStopFilter(Filter):  # type: ignore[misc]  # whoosh ships no types
    """English stop words and one-letter Latin tokens; a single CJK character is a word."""

    def __init__(self, stoplist: frozenset[str] = STOP_WORDS) -> None:
        self.stops = frozenset(stoplist)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WarpStopFilter) and self.stops == other.stops

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        """Drop (or mark, when Whoosh keeps stops) stop words and one-letter Latin tokens."""
        stops = self.stops
        for t in tokens:
            text = t.text
            if text in stops or (len(text) < 2 and not _CJK_CHAR.match(text)):
                if t.removestops:
                    continue
                t.stopped = True
            yield t


def warp_analyzer() -> CompositeAnalyzer:
    """Tokenize, lowercase, drop stop words, stem with Snowball English (Porter2).

    Whoosh's default Porter stemmer keeps a doubled consonant ("running" -> "runn"), so
    "running" would not match "run"; Snowball does."""
    return WarpTokenizer() | LowercaseFilter() | WarpStopFilter() | StemFilter(lang="en")


def terms(text: str) -> list[str]:
    """The index terms of ``text`` (for tests and highlighting)."""
    return [t.text for t in warp_analyzer()(text)]
