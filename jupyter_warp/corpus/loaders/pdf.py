"""PDF: text per page with pypdf; encrypted, corrupt and scanned (no text layer) files are refused."""

from __future__ import annotations

import io
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ...errors import UnreadableFileError
from ..document import Block, Document, title_from_name
from . import Loader

_JUNK_TITLES = ("microsoft word", "untitled", ".doc", ".pdf", ".tex", ".dvi")


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs a warning for every oddity of a real PDF; they would break the progress bar."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class PdfLoader(Loader):
    def load(self, path: Path, data: bytes) -> Document:
        try:
            from pypdf import PdfReader
            from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError
        except ImportError:
            raise UnreadableFileError(str(path), "pypdf is not installed: run `pip install pypdf`") from None
        where = str(path)
        with _quiet_pypdf():
            try:
                reader = PdfReader(io.BytesIO(data))
                if reader.is_encrypted and not reader.decrypt(""):
                    raise UnreadableFileError(where, "encrypted PDF (needs a password)")
                pages = reader.pages
                count = len(pages)
            except UnreadableFileError:
                raise
            except DependencyError as exc:
                raise UnreadableFileError(where, f"encrypted PDF: {exc}") from None
            except FileNotDecryptedError:
                raise UnreadableFileError(where, "encrypted PDF (needs a password)") from None
            except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as exc:
                raise UnreadableFileError(where, f"corrupt PDF ({type(exc).__name__}: {exc})"[:200]) from None
            blocks: list[Block] = []
            failed = 0
            for number in range(count):
                try:
                    text = pages[number].extract_text() or ""
                except Exception:  # one bad page (odd fonts, broken streams) must not lose the rest
                    failed += 1
                    continue
                if text.strip():
                    blocks.append(Block(text, 0, page=number + 1))
            title = _metadata_title(reader)
        if not blocks:
            reason = "no text layer (scanned PDF? run OCR first)" if not failed else "corrupt PDF (no page could be read)"
            raise UnreadableFileError(where, reason)
        note = f"{failed} of {count} pages unreadable" if failed else None
        return Document(title or title_from_name(path), blocks, note)


def _metadata_title(reader: object) -> str:
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
        title = " ".join(str(meta.title or "").split()) if meta else ""
    except Exception:  # metadata of a damaged PDF is optional
        return ""
    if not title or len(title) > 200 or any(j in title.lower() for j in _JUNK_TITLES):
        return ""
    return title
