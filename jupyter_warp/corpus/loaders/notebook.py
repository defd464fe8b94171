"""Jupyter notebooks: markdown and code cells, plus the text of outputs (no images, no ANSI)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

from ...errors import UnreadableFileError
from ..document import Document, blocks_from_headings, join_paragraphs, title_from_name
from ..textio import decode_text
from . import Loader

_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TEXT_MIME = ("text/markdown", "text/plain")


def _source(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


class NotebookLoader(Loader):
    """``.ipynb``: cells and the text of their outputs."""

    def load(self, path: Path, data: bytes) -> Document:
        """Parse the file as the module docstring says."""
        import nbformat

        text, note = decode_text(data, str(path))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nb = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]  # nbformat: unannotated
        except (json.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UnreadableFileError(str(path), f"not a valid notebook ({type(exc).__name__})") from None
        parts: list[tuple[str, int]] = []
        for cell in nb.get("cells", []):
            source = _source(cell.get("source"))
            if cell.get("cell_type") == "markdown":
                paragraph: list[str] = []
                fenced = False
                for line in source.splitlines():
                    fenced ^= line.lstrip().startswith("```")
                    match = None if fenced else _ATX.match(line)
                    if match:
                        parts.append(("\n".join(paragraph), 0))
                        paragraph = []
                        parts.append((match.group(2), len(match.group(1))))
                    else:
                        paragraph.append(line)
                parts.append(("\n".join(paragraph), 0))
            elif cell.get("cell_type") == "code":
                parts.append((source, 0))
                parts.extend((out, 0) for out in _outputs(cell.get("outputs", [])))
            else:
                parts.append((source, 0))
        body, headings = join_paragraphs(parts)
        if not body.strip():
            raise UnreadableFileError(str(path), "empty notebook")
        meta_title = str(nb.get("metadata", {}).get("title", "") or "").strip()
        top, blocks = blocks_from_headings(body, headings, meta_title)
        return Document(meta_title or top or title_from_name(path), blocks, note)


def _outputs(outputs: list[Any]) -> list[str]:
    texts: list[str] = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            texts.append(_source(out.get("text")))
        elif kind in ("execute_result", "display_data"):
            bundle = out.get("data", {})
            for mime in _TEXT_MIME:
                if mime in bundle:
                    texts.append(_source(bundle[mime]))
                    break
        elif kind == "error":
            texts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
    return [_ANSI.sub("", t) for t in texts if t.strip()]
