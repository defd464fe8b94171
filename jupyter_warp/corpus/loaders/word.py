"""DOCX: paragraphs and tables in body order; "Heading N" and "Title" styles give the sections."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ...errors import UnreadableFileError
from ..document import Document, blocks_from_headings, join_paragraphs, title_from_name
from ..limits import DEFAULT_LIMITS, Limits, check_zip_expansion
from . import Loader

_HEADING_STYLE = re.compile(r"heading\s*(\d)", re.IGNORECASE)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _level(name: str) -> int:
    """1 for the Title style, 2 to 10 for Heading 1 to 9, 0 for body text."""
    match = _HEADING_STYLE.match(name)
    if match:
        return int(match.group(1)) + 1
    return 1 if name.lower() == "title" else 0


class _Levels:
    """Heading level by paragraph style id, read once from the styles part.

    python-docx's ``Paragraph.style`` scans every style for each paragraph (about 1 ms
    each): a 100,000-paragraph document took two minutes. A dict lookup is the same answer.
    """

    def __init__(self, doc: Any) -> None:
        from docx.enum.style import WD_STYLE_TYPE

        self.by_id: dict[str, int] = {}
        self.default = 0
        for style in doc.styles:
            if style.type != WD_STYLE_TYPE.PARAGRAPH:
                continue
            level = _level(style.name or "")
            if style.style_id:
                self.by_id[style.style_id] = level
            if style.element.default:
                self.default = level

    def of(self, paragraph_element: Any) -> int:
        style_id = paragraph_element.style
        return self.by_id.get(style_id, self.default) if style_id else self.default


def _text(element: Any) -> str:
    """Text of a ``w:p`` element that python-docx does not wrap (text boxes, content controls)."""
    return "".join(t.text or "" for t in element.iter(_W + "t"))


def _rows(table: Any) -> list[str]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            value = " ".join(cell.text.split())
            if value and (not cells or cells[-1] != value):
                cells.append(value)
        rows.append(" | ".join(cells))
    return rows


class DocxLoader(Loader):
    """``.docx``: paragraphs and tables, sections along the heading styles."""

    def load(self, path: Path, data: bytes) -> Document:
        """``load_limited`` with the default limits."""
        return self.load_limited(path, data, DEFAULT_LIMITS)

    def load_limited(self, path: Path, data: bytes, limits: Limits) -> Document:
        """Refuse by uncompressed size first: parsing is what a decompression bomb costs."""
        check_zip_expansion(str(path), data, limits)
        try:
            import docx
            from docx.table import Table
            from docx.text.paragraph import Paragraph
        except ImportError:
            raise UnreadableFileError(
                str(path), "python-docx is not installed: run `pip install python-docx`") from None
        try:
            doc = docx.Document(io.BytesIO(data))
        except Exception as exc:  # zipfile, lxml and KeyError failures all mean a damaged file
            raise UnreadableFileError(
                str(path), f"unreadable DOCX ({type(exc).__name__}; damaged, or Strict OOXML)") from None
        parts: list[tuple[str, int]] = []
        style_title = ""
        levels = _Levels(doc)
        for child in doc.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                para = Paragraph(child, doc)
                level = levels.of(child)
                if level == 1 and not style_title:
                    style_title = para.text.strip()
                parts.append((para.text, level))
                boxes = [_text(q) for box in child.iter(_W + "txbxContent") for q in box.iter(_W + "p")]
                parts.extend((t, 0) for t in dict.fromkeys(boxes))
            elif tag == "tbl":
                parts.extend((row, 0) for row in _rows(Table(child, doc)))
            else:
                parts.extend((_text(q), 0) for q in child.iter(_W + "p"))
        text, headings = join_paragraphs(parts)
        if not text.strip():
            raise UnreadableFileError(str(path), "no text in DOCX")
        core = (doc.core_properties.title or "").strip()
        top, blocks = blocks_from_headings(text, headings, core)
        return Document(core or style_title or top or title_from_name(path), blocks)
