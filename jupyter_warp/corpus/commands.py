"""``jupyter-warp index`` and ``jupyter-warp search``: what they print."""

from __future__ import annotations

import sys

from ..records import printable
from .health import build_complete, build_running, rebuild_command
from .indexer import build_index
from .limits import DEFAULT_MAX_FILE_MB, DEFAULT_MAX_PDF_PAGES, DEFAULT_MAX_TEXT_MB
from .search import open_index

SHOW_SKIPPED = 50


def index_command(
    paths: list[str],
    index: str,
    quiet: bool = False,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    max_text_mb: float = DEFAULT_MAX_TEXT_MB,
    max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES,
    embed: bool = False,
    embed_model: str | None = None,
) -> int:
    """Build or update the index; print the summary, every skipped file and why.

    ``embed`` or ``embed_model`` adds vectors for dense retrieval; once an index has them,
    every later run keeps them current without the flag."""
    summary = build_index(
        paths, index, progress=not quiet, max_file_mb=max_file_mb, max_text_mb=max_text_mb,
        max_pdf_pages=max_pdf_pages, embed=True if embed else None, embed_model=embed_model,
    )
    if summary.rebuilt:
        print(f"index {printable(index)} was {summary.rebuilt}: rebuilt it from the files")
    print(f"index {printable(index)}: {summary}")
    for path, reason in summary.skipped_reasons[:SHOW_SKIPPED]:
        print(f"  skipped {printable(path)}: {printable(reason)}")
    if len(summary.skipped_reasons) > SHOW_SKIPPED:
        print(f"  ... and {len(summary.skipped_reasons) - SHOW_SKIPPED} more skipped")
    for path, note in summary.notes[:SHOW_SKIPPED]:
        print(f"  note {printable(path)}: {printable(note)}")
    return 0


def search_command(query: str, index: str, k: int = 10, mode: str = "auto") -> int:
    """Print the ``k`` best passages for ``query`` (``mode``: auto, bm25, dense, hybrid), matched words highlighted."""
    marker = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("**", "**")
    with open_index(index, retrieval=mode) as idx:
        if not build_complete(idx.path) and not build_running(idx.path):
            print(
                f"note: the last build of {printable(index)} did not finish; run `{rebuild_command(idx.path)}` "
                "to index the rest",
                file=sys.stderr,
            )
        passages = idx.search(query, k=k)
        if not passages:
            print(f"no passages match {query!r} in {printable(index)} ({idx.doc_count():,} passages)")
            return 0
        for rank, p in enumerate(passages, 1):
            print(f"{rank}. {printable(p.title)}  [{p.score:.2f}]")
            print(f"   {p.location()}")
            print(f"   {idx.highlight(p, query, marker=marker)}")
    return 0
