"""HTML: visible text by block elements, with h1-h6 as headings (selectolax, no scripts or styles)."""

from __future__ import annotations

from pathlib import Path

from ...errors import UnreadableFileError
from ..document import Document, blocks_from_headings, join_paragraphs, title_from_name
from ..textio import decode_text
from . import Loader

_SKIP = ["script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas"]
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {
    "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "li", "ul",
    "ol", "dl", "dt", "dd", "pre", "blockquote", "table", "tr", "caption", "figcaption",
    "figure", "form", "fieldset", "address", "details", "summary", "hr", "body", "html",
}
_CELLS = {"td", "th"}


class HtmlLoader(Loader):
    """``.html`` and ``.htm``: visible text, with h1-h6 as headings."""

    def load(self, path: Path, data: bytes) -> Document:
        """Parse the file as the module docstring says."""
        from selectolax.lexbor import LexborHTMLParser as HTMLParser

        text, note = decode_text(data, str(path))
        tree = HTMLParser(text)
        title_node = tree.css_first("title")
        page_title = " ".join(title_node.text().split()) if title_node else ""
        root = tree.body or tree.root
        if root is None:
            raise UnreadableFileError(str(path), "no text in HTML")
        tree.strip_tags(_SKIP)
        body, headings = join_paragraphs(_paragraphs(root))
        top, blocks = blocks_from_headings(body, headings, page_title)
        if not blocks and not body.strip():
            raise UnreadableFileError(str(path), "no text in HTML")
        return Document(page_title or top or title_from_name(path), blocks, note)


def _paragraphs(root: object) -> list[tuple[str, int]]:
    """Walk the tree without recursion (deep documents exist); one paragraph per block element."""
    parts: list[tuple[str, int]] = []
    buf: list[str] = []

    def flush() -> None:
        line = " ".join("".join(buf).split())
        if line:
            parts.append((line, 0))
        buf.clear()

    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            flush()
            continue
        tag = node.tag  # type: ignore[attr-defined]
        if tag == "-text":
            buf.append(node.text_content or "")  # type: ignore[attr-defined]
            continue
        if tag in _HEADINGS:
            flush()
            parts.append((" ".join(node.text(separator=" ").split()), _HEADINGS[tag]))  # type: ignore[attr-defined]
            continue
        if tag == "br":
            buf.append("\n")
            continue
        if tag == "img":
            buf.append(f" {node.attributes.get('alt') or ''} ")  # type: ignore[attr-defined]
            continue
        if tag in _CELLS:
            buf.append(" | ")
        if tag in _BLOCKS:
            flush()
            stack.append((node, True))
        children = list(node.iter(include_text=True))  # type: ignore[attr-defined]
        stack.extend((child, False) for child in reversed(children))
    flush()
    return parts
