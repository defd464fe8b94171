"""CSV as text: rows are lines; the header row is every passage's heading, so column names match."""

from __future__ import annotations

from pathlib import Path

from ..document import Block, Document, title_from_name
from ..textio import decode_text
from . import Loader


class CsvLoader(Loader):
    """``.csv``: rows as lines, the header row as every passage's heading."""

    def load(self, path: Path, data: bytes) -> Document:
        """Parse the file as the module docstring says."""
        text, note = decode_text(data, str(path))
        header, sep, _ = text.partition("\n")
        if not sep:
            return Document(title_from_name(path), [Block(text, 0)], note)
        body_start = len(header) + 1
        return Document(
            title_from_name(path),
            [Block(text[body_start:], body_start, heading=header.strip()[:300])],
            note,
        )
