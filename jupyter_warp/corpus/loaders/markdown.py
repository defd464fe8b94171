"""Markdown: sections along ATX and setext headings (markdown-it, so code fences are not headings)."""

from __future__ import annotations

from pathlib import Path

from ..document import Document, Heading, blocks_from_headings, title_from_name
from ..textio import decode_text
from . import Loader


class MarkdownLoader(Loader):
    """``.md`` and ``.markdown``: sections along the headings."""

    def load(self, path: Path, data: bytes) -> Document:
        """Parse the file as the module docstring says."""
        from markdown_it import MarkdownIt

        text, note = decode_text(data, str(path))
        lines = text.splitlines(keepends=True)
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))
        tokens = MarkdownIt("commonmark").parse(text)
        headings = []
        for i, tok in enumerate(tokens):
            if tok.type == "heading_open" and tok.map and i + 1 < len(tokens):
                first, last = tok.map
                name = " ".join(tokens[i + 1].content.split())
                if name:
                    headings.append(Heading(offsets[first], offsets[last], int(tok.tag[1:]), name))
        title, blocks = blocks_from_headings(text, headings)
        return Document(title or title_from_name(path), blocks, note)
