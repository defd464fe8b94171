"""One loader class per file format, picked by suffix from one table (papermill's iorw pattern).

A loader turns a file's bytes into a ``Document`` or raises ``UnreadableFileError`` with the
reason the file is skipped. Loaders import their parsing library when first used, so a
missing one costs only its format.
"""

from __future__ import annotations

from pathlib import Path

from ..document import Document
from ..limits import Limits


class Loader:
    """Base class: ``load`` gets the path (for messages and titles) and the file's bytes."""

    def load(self, path: Path, data: bytes) -> Document:
        """The file's ``Document``; raises ``UnreadableFileError`` with the reason to skip it."""
        raise NotImplementedError

    def load_limited(self, path: Path, data: bytes, limits: Limits) -> Document:
        """``load`` within ``limits``; formats that expand (DOCX, PDF) override it."""
        return self.load(path, data)


def load(loader: object, path: Path, data: bytes, limits: Limits) -> Document:
    """Run any registered loader: a ``Loader`` within the limits, a plain object by its ``load``."""
    if isinstance(loader, Loader):
        return loader.load_limited(path, data, limits)
    return loader.load(path, data)  # type: ignore[attr-defined, no-any-return]


_LOADERS: dict[str, Loader] = {}


def register(suffix: str, loader: Loader) -> None:
    """Use ``loader`` for files ending in ``suffix`` (``".md"``); a later call replaces it."""
    _LOADERS[suffix.lower()] = loader


def loader_for(path: Path) -> Loader | None:
    """The loader for ``path``'s suffix, or None for a format the index does not read."""
    return _LOADERS.get(path.suffix.lower())


def supported_suffixes() -> list[str]:
    """The suffixes some loader reads (the formats ``jupyter-warp index`` takes)."""
    return sorted(_LOADERS)


def _register_builtins() -> None:
    from .csvfile import CsvLoader
    from .html import HtmlLoader
    from .latex import LatexLoader
    from .markdown import MarkdownLoader
    from .notebook import NotebookLoader
    from .pdf import PdfLoader
    from .rst import RstLoader
    from .text import TextLoader
    from .word import DocxLoader

    for suffixes, loader in (
        ((".txt", ".text"), TextLoader()),
        ((".md", ".markdown"), MarkdownLoader()),
        ((".rst",), RstLoader()),
        ((".html", ".htm"), HtmlLoader()),
        ((".pdf",), PdfLoader()),
        ((".ipynb",), NotebookLoader()),
        ((".docx",), DocxLoader()),
        ((".tex",), LatexLoader()),
        ((".csv",), CsvLoader()),
    ):
        for suffix in suffixes:
            register(suffix, loader)


_register_builtins()

__all__ = ["Loader", "load", "register", "loader_for", "supported_suffixes"]
