"""PDF: text per page with pypdf; encrypted, corrupt and scanned (no text layer) files are refused."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...errors import UnreadableFileError
from ..document import Block, Document, title_from_name
from ..limits import DEFAULT_LIMITS, Limits
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
    """``.pdf``: the text layer, page by page, within the page and text limits."""

    def load(self, path: Path, data: bytes) -> Document:
        """``load_limited`` with the default limits."""
        return self.load_limited(path, data, DEFAULT_LIMITS)

    def load_limited(self, path: Path, data: bytes, limits: Limits) -> Document:
        """Text per page, up to ``limits.max_pdf_pages`` pages and ``limits.max_text_bytes`` of text.

        A page object listed again in the page tree is read once (its text is the same).
        """
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
            except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError,
                    RecursionError) as exc:
                raise UnreadableFileError(where, f"corrupt PDF ({type(exc).__name__}: {exc})"[:200]) from None
            read = _Pages(count, limits)
            for number in range(min(count, limits.max_pdf_pages)):
                try:
                    page = pages[number]
                    if read.repeated(page):
                        continue
                    text = page.extract_text() or ""
                except Exception:  # one bad page (odd fonts, broken streams) must not lose the rest
                    read.failed += 1
                    continue
                if not read.add(text, number + 1):
                    break
            title = _metadata_title(reader)
        if not read.blocks:
            reason = ("no text layer (scanned PDF? run OCR first)" if not read.failed
                      else "corrupt PDF (no page could be read)")
            raise UnreadableFileError(where, reason)
        return Document(title or title_from_name(path), read.blocks, read.note(), capped=read.capped)


class _Pages:
    """Pages read so far, and what the limits and the page tree cut: the note for the summary."""

    def __init__(self, count: int, limits: Limits) -> None:
        self.count, self.limits = count, limits
        self.blocks: list[Block] = []
        self.failed = self.repeats = self.chars = 0
        self.cut_at = 0
        self.seen: set[tuple[int, int]] = set()

    def repeated(self, page: object) -> bool:
        ref = getattr(page, "indirect_reference", None)
        if ref is None:
            return False
        key = (ref.idnum, ref.generation)
        if key in self.seen:
            self.repeats += 1
            return True
        self.seen.add(key)
        return False

    def add(self, text: str, number: int) -> bool:
        """Keep one page's text; False once the text limit is reached (that page is cut)."""
        room = self.limits.max_text_bytes - self.chars
        if len(text) > room:
            text, self.cut_at = text[:room], number
        self.chars += len(text)
        if text.strip():
            self.blocks.append(Block(text, 0, page=number))
        return not self.cut_at

    @property
    def capped(self) -> bool:
        return bool(self.cut_at) or self.count > self.limits.max_pdf_pages

    def note(self) -> str | None:
        notes = []
        if self.failed:
            notes.append(f"{self.failed} of {self.count} pages unreadable")
        if self.repeats:
            notes.append(f"{self.repeats} repeated pages read once")
        if self.cut_at:
            notes.append(f"text cut at page {self.cut_at} ({self.limits.max_text_bytes / 1e6:g} MB, --max-text-mb)")
        elif self.count > self.limits.max_pdf_pages:
            notes.append(f"only the first {self.limits.max_pdf_pages} of {self.count} pages read (--max-pdf-pages)")
        return "; ".join(notes) or None


def _metadata_title(reader: object) -> str:
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
        title = " ".join(str(meta.title or "").split()) if meta else ""
    except Exception:  # metadata of a damaged PDF is optional
        return ""
    if not title or len(title) > 200 or any(j in title.lower() for j in _JUNK_TITLES):
        return ""
    return title
