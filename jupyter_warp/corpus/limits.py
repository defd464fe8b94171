"""How much a file may expand to: compressed containers are judged by their uncompressed size.

A file's size on disk says little about the work of reading it: a 138 KB DOCX can hold 47 MB
of XML (minutes of parsing), and a 120 KB PDF can list one page 20,000 times. So a DOCX is
refused, before parsing, when the sizes its zip directory declares exceed the limits (Python's
zipfile never inflates a member past its declared size, so the directory cannot lie), and a
PDF is read up to a number of pages and a volume of text. Both limits are settings
(``build_index(max_text_mb=..., max_pdf_pages=...)``, ``jupyter-warp index --max-text-mb
--max-pdf-pages``); a file they cut short or skip is read again when they change.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from ..errors import ConfigError, UnreadableFileError

DEFAULT_MAX_FILE_MB = 50.0
DEFAULT_MAX_TEXT_MB = 20.0
"""A long book is 1 to 5 MB of text and its DOCX under 20 MB of XML; past that the parse takes
minutes and gigabytes, and the file is far more likely a bomb than a document."""
DEFAULT_MAX_PDF_PAGES = 2000
"""Past this many pages a PDF is indexed in part, with a note; the rest costs minutes each."""


@dataclass(frozen=True)
class Limits:
    """How much of one file the indexer reads before it skips or cuts the file."""

    max_file_bytes: int = int(DEFAULT_MAX_FILE_MB * 1_000_000)
    max_text_bytes: int = int(DEFAULT_MAX_TEXT_MB * 1_000_000)
    max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES

    @classmethod
    def from_mb(cls, max_file_mb: float, max_text_mb: float, max_pdf_pages: int) -> Limits:
        """Limits from the user's settings; a limit below 1 (byte or page) is refused."""
        limits = cls(int(max_file_mb * 1_000_000), int(max_text_mb * 1_000_000), int(max_pdf_pages))
        if limits.max_file_bytes < 1 or limits.max_text_bytes < 1 or limits.max_pdf_pages < 1:
            raise ConfigError(
                f"limits must be positive (max_file_mb={max_file_mb}, max_text_mb={max_text_mb}, "
                f"max_pdf_pages={max_pdf_pages}): pass larger values"
            )
        return limits

    def key(self) -> list[int]:
        """What a file's manifest record keeps when these limits cut it short or skipped it."""
        return [self.max_text_bytes, self.max_pdf_pages]


DEFAULT_LIMITS = Limits()


class OverLimitError(UnreadableFileError):
    """A file refused by a limit; unlike a broken file it is read again when the limits change."""


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 10e6 else f"{n / 1e6:.0f} MB"


def check_zip_expansion(path: str, data: bytes, limits: Limits, parsed: tuple[str, ...] = (".xml", ".rels")) -> None:
    """Refuse a zip container (DOCX) whose declared members expand past the limits.

    Members named with a ``parsed`` suffix are text that will be parsed and count against
    ``max_text_bytes``; all members together count against ``max_file_bytes`` (a parser reads
    every part into memory). A damaged zip is left to the loader to report.
    """
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    text = sum(m.file_size for m in members if m.filename.lower().endswith(parsed))
    total = sum(m.file_size for m in members)
    if text > limits.max_text_bytes:
        raise OverLimitError(
            path,
            f"expands to {_mb(text)} of XML (> {_mb(limits.max_text_bytes)}; "
            "a decompression bomb? raise --max-text-mb to read it)",
        )
    if total > limits.max_file_bytes:
        raise OverLimitError(
            path, f"expands to {_mb(total)} (> {_mb(limits.max_file_bytes)}; raise --max-file-mb to read it)"
        )
