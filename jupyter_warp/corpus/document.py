"""What a loader hands the chunker: a title and blocks of text that each sit under one heading.

Offsets are what make a citation exact. For the text formats (txt, md, rst, tex, csv) a
block's ``start`` is its offset in the decoded file, so ``file_text[start:end]`` is the passage.
For PDFs it is the offset in the page's extracted text; for HTML, DOCX and notebooks, in the
document's extracted text (paragraphs joined by blank lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Block:
    """Text under one heading; ``start`` is its offset in the document (see the module docstring)."""

    text: str
    start: int = 0
    page: int | None = None
    heading: str = ""


@dataclass
class Document:
    """What a loader returns: a title, the blocks, and what the user should know about the file."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    note: str | None = None
    """Something the user should know about the file (e.g. it was not UTF-8)."""
    capped: bool = False
    """A limit cut the file short (pages, text); it is read again when the limits change."""


@dataclass
class Heading:
    """A heading a loader found, with the offsets that split the text into sections."""

    start: int
    """Offset where the heading's line(s) begin."""
    end: int
    """Offset where the section's body begins."""
    level: int
    title: str


def title_from_name(path: Path) -> str:
    """A readable title from a file name: ``attention_is-all.pdf`` -> ``attention is all``."""
    return " ".join(path.stem.replace("_", " ").replace("-", " ").split()) or path.name


def blocks_from_headings(
    text: str, headings: list[Heading], known_title: str = ""
) -> tuple[str | None, list[Block]]:
    """Cut ``text`` at its headings; return the title heading (if any) and the blocks.

    A document that opens with a heading that is its only one at the top level has that
    heading as its title; it is left out of the heading paths, which it would only repeat.
    When the file names its own title (``known_title``) and the heading differs, the heading
    is a section like the others.
    """
    headings = sorted(headings, key=lambda h: h.start)
    title: str | None = None
    title_index = -1
    if headings:
        top = min(h.level for h in headings)
        opens = not text[: headings[0].start].strip()
        differs = known_title and known_title.strip().lower() != headings[0].title.lower()
        if opens and not differs and headings[0].level == top and sum(1 for h in headings if h.level == top) == 1:
            title, title_index = headings[0].title, 0
    blocks: list[Block] = []
    first = headings[0].start if headings else len(text)
    if text[:first].strip():
        blocks.append(Block(text[:first], 0))
    stack: list[Heading] = []
    for i, h in enumerate(headings):
        while stack and stack[-1].level >= h.level:
            stack.pop()
        stack.append(h)
        end = headings[i + 1].start if i + 1 < len(headings) else len(text)
        path = " > ".join(s.title for s in stack if s is not headings[title_index] or title_index < 0)
        body = text[h.end:end]
        if body.strip():
            blocks.append(Block(body, h.end, heading=path))
    if not blocks and text.strip():
        blocks.append(Block(text, 0))
    return title, blocks


def join_paragraphs(parts: list[tuple[str, int]]) -> tuple[str, list[Heading]]:
    """Join extracted paragraphs into one text; ``parts`` are (text, heading level or 0).

    Used by the formats whose text is extracted (HTML, DOCX, notebooks): headings become
    lines of the text and come back as ``Heading`` records with their offsets.
    """
    chunks: list[str] = []
    headings: list[Heading] = []
    offset = 0
    for text, level in parts:
        text = text.strip()
        if not text:
            continue
        if chunks:
            chunks.append("\n\n")
            offset += 2
        if level:
            headings.append(Heading(offset, offset + len(text), level, " ".join(text.split())))
        chunks.append(text)
        offset += len(text)
    return "".join(chunks), headings
