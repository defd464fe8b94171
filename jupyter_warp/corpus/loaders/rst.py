"""reStructuredText: sections along underlined (and overlined) titles; PEP-style ``Title:`` fields."""

from __future__ import annotations

import re
from pathlib import Path

from ..document import Document, Heading, blocks_from_headings, title_from_name
from ..textio import decode_text
from . import Loader

_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}\s*$")
_TITLE_FIELD = re.compile(r"^Title:[ \t]*(.+(?:\n[ \t]+.+)*)", re.MULTILINE)


class RstLoader(Loader):
    """``.rst``: sections along the underlined titles."""

    def load(self, path: Path, data: bytes) -> Document:
        """Parse the file as the module docstring says."""
        text, note = decode_text(data, str(path))
        headings = _headings(text)
        field = _TITLE_FIELD.search(text[: headings[0].start if headings else 4096])
        known = " ".join(field.group(1).split()) if field else ""
        title, blocks = blocks_from_headings(text, headings, known)
        title = known or title
        return Document(title or title_from_name(path), blocks, note)


def _headings(text: str) -> list[Heading]:
    """Section titles: a text line under a line of one punctuation character, as long as it.

    Levels follow the order in which adornment styles first appear, as docutils does.
    """
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    styles: list[tuple[str, bool]] = []
    headings: list[Heading] = []
    i = 1
    while i < len(lines):
        under = _ADORNMENT.match(lines[i])
        title = lines[i - 1].strip()
        if under and title and not _ADORNMENT.match(lines[i - 1]) and len(lines[i].rstrip()) >= len(title):
            start_line = i - 1
            over = i >= 2 and lines[i - 2].rstrip() == lines[i].rstrip()
            if over:
                start_line = i - 2
            elif i >= 2 and lines[i - 2].strip():
                i += 1
                continue
            style = (under.group(1), over)
            if style not in styles:
                styles.append(style)
            headings.append(Heading(offsets[start_line], offsets[i + 1], styles.index(style) + 1, title))
            i += 2
            continue
        i += 1
    return headings
