"""LaTeX source: sections along \\part ... \\subsubsection; the title from \\title{...}."""

from __future__ import annotations

import re
from pathlib import Path

from ..document import Document, Heading, blocks_from_headings, title_from_name
from ..textio import decode_text
from . import Loader

_LEVELS = {"part": 1, "chapter": 2, "section": 3, "subsection": 4, "subsubsection": 5, "paragraph": 6}
_BRACED = r"\s*(?:\[[^\]]*\])?\s*\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}"
"""An optional [short form] then a {braced argument} that may hold one level of braces."""
_SECTION = re.compile(r"\\(part|chapter|section|subsection|subsubsection|paragraph)\*?" + _BRACED)
_TITLE = re.compile(r"\\title" + _BRACED)
_COMMAND = re.compile(r"\\[a-zA-Z]+\*?|[{}]")


def _plain(tex: str) -> str:
    return " ".join(_COMMAND.sub(" ", tex).split())


class LatexLoader(Loader):
    """``.tex``: sections along the sectioning commands."""

    def load(self, path: Path, data: bytes) -> Document:
        """Parse the file as the module docstring says."""
        text, note = decode_text(data, str(path))
        headings = [
            Heading(m.start(), m.end(), _LEVELS[m.group(1)], _plain(m.group(2)))
            for m in _SECTION.finditer(text)
            if not _commented(text, m.start())
        ]
        found = _TITLE.search(text)
        title = _plain(found.group(1)) if found else ""
        top, blocks = blocks_from_headings(text, [h for h in headings if h.title], title)
        return Document(title or top or title_from_name(path), blocks, note)


def _commented(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    return re.search(r"(?<!\\)%", text[line_start:pos]) is not None
