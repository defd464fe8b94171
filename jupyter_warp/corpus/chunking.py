"""Blocks to passages of a few hundred words, cut at paragraphs, then lines, sentences, words.

A passage never crosses a block (a heading's section or a PDF page), and its text is exactly
``block.text[start:end]`` shifted by the block's offset, so a citation points at the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .analysis import CJK
from .document import Block

MAX_WORDS = 200
"""Target size of a passage; a paragraph is only cut when it alone is longer."""
MIN_WORDS = 40
"""A section's last piece shorter than this joins the piece before it."""
MAX_CHARS = 4000
"""Hard bound for text without spaces (minified code, tables of numbers)."""

_WORD = re.compile(rf"[^\W{CJK}]+")
_CJK_CHAR = re.compile(rf"[{CJK}]")
_SEPARATORS = (
    re.compile(r"\n[ \t]*\n\s*"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?;:])\s+|(?<=[。！？；])"),
    re.compile(r"\s+"),
)


@dataclass
class Piece:
    """One passage cut from a block, with its offsets in the document and its place."""

    text: str
    start: int
    end: int
    page: int | None
    heading: str


def count_words(text: str) -> int:
    """Words, with two CJK characters counting as one word."""
    return len(_WORD.findall(text)) + (len(_CJK_CHAR.findall(text)) + 1) // 2


def chunk_blocks(blocks: list[Block], max_words: int = MAX_WORDS) -> list[Piece]:
    """Cut blocks into passages of at most ``max_words``, at the coarsest breaks that fit; wordless ones dropped."""
    pieces: list[Piece] = []
    for block in blocks:
        for start, end in _pack(block.text, max_words):
            text = block.text[start:end]
            if _WORD.search(text) or _CJK_CHAR.search(text):
                pieces.append(Piece(text, block.start + start, block.start + end, block.page, block.heading))
    return pieces


def _pack(text: str, max_words: int) -> list[tuple[int, int]]:
    """Greedy packing of the smallest pieces that fit into spans of at most ``max_words``."""
    spans = _split(text, 0, len(text), 0, max_words)
    out: list[list[int]] = []
    for start, end, words in spans:
        if out and out[-1][2] + words <= max_words and end - out[-1][0] <= MAX_CHARS:
            out[-1][1] = end
            out[-1][2] += words
        else:
            out.append([start, end, words])
    if len(out) > 1 and out[-1][2] < MIN_WORDS and out[-2][2] + out[-1][2] <= max_words * 1.5:
        last = out.pop()
        out[-1][1] = last[1]
        out[-1][2] += last[2]
    return [(s, e) for s, e, _ in out]


def _split(text: str, lo: int, hi: int, level: int, max_words: int) -> list[tuple[int, int, int]]:
    """Trimmed spans (start, end, words) covering ``text[lo:hi]``, cut at ever finer separators."""
    if level >= len(_SEPARATORS):
        return _hard(text, lo, hi, max_words)
    bounds: list[tuple[int, int]] = []
    cursor = lo
    for m in _SEPARATORS[level].finditer(text, lo, hi):
        bounds.append((cursor, m.start()))
        cursor = m.end()
    bounds.append((cursor, hi))
    spans: list[tuple[int, int, int]] = []
    for start, end in bounds:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        words = count_words(text[start:end])
        if words <= max_words and end - start <= MAX_CHARS:
            spans.append((start, end, words))
        else:
            spans.extend(_split(text, start, end, level + 1, max_words))
    return spans


def _hard(text: str, lo: int, hi: int, max_words: int) -> list[tuple[int, int, int]]:
    """Cut a run with no separator left (CJK without punctuation, minified code) by length."""
    size = min(MAX_CHARS, 2 * max_words)
    return [(s, min(s + size, hi), count_words(text[s : min(s + size, hi)])) for s in range(lo, hi, size)]
