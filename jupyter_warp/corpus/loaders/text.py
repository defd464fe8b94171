"""Plain text: paragraphs, no headings; the first line is the title when it looks like one."""

from __future__ import annotations

from pathlib import Path

from ..document import Block, Document, title_from_name
from ..textio import decode_text
from . import Loader


class TextLoader(Loader):
    """``.txt`` and ``.text``: paragraphs, no headings."""

    def load(self, path: Path, data: bytes) -> Document:
        """Parse the file as the module docstring says."""
        text, note = decode_text(data, str(path))
        first = text.strip().split("\n", 1)[0].strip()
        title = first if 0 < len(first) <= 120 else title_from_name(path)
        return Document(title, [Block(text, 0)], note)
