"""The Whoosh index on disk: schema, format version, and the locks that keep one writer at a time.

Two kinds of documents share the index. Passages (``kind=p``) are what search finds. One
record per file (``kind=f``: size, mtime, hash, passage count, or the reason it was skipped)
is the manifest for incremental updates; it is committed in the same commit as the file's
passages, so an interrupted run can never leave the manifest claiming work that was lost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.index import FileIndex, LockError
from whoosh.util.filelock import try_for
from whoosh.writing import SegmentWriter

from ..errors import IndexDamagedError, IndexLockedError, IndexMissingError, WarpError
from .analysis import warp_analyzer

FORMAT = 2
"""Bumped whenever the schema or the analysis changes; an older index is rebuilt."""
VERSION_FILE = "warp-index.json"
BUILD_LOCK = "WARPBUILD"
PASSAGE, FILE = "p", "f"


TITLE_WEIGHT = 2
HEADING_WEIGHT = 2
"""How many times the title and the heading path count in a passage's searchable text.

One indexed field with the title and headings repeated is BM25F proper (Robertson's: field
term frequencies weighted and summed, then saturated once, with the weighted length). On the
bench sets it beats Whoosh's per-field BM25F sum, which saturates each field apart, and a
query reads one posting list per word instead of three.
"""


def make_schema() -> Schema:
    """The Whoosh fields of one passage: ``body`` is searched, the rest stored for display."""
    return Schema(
        kind=ID(stored=True),
        doc_id=ID(stored=True, unique=True),
        path=ID(stored=True),
        title=STORED(),
        heading=STORED(),
        content=STORED(),
        body=TEXT(analyzer=warp_analyzer()),
        meta=STORED(),
    )


def searchable(title: str, heading: str, text: str) -> str:
    """The ``body`` field of a passage: title and heading weighted by repetition, then the text."""
    return "\n".join([title] * TITLE_WEIGHT + [heading] * HEADING_WEIGHT + [text])


def format_of(index_dir: Path) -> int | None:
    """The index format recorded in the version file, or None when it cannot be read."""
    try:
        return int(json.loads((index_dir / VERSION_FILE).read_text())["format"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def open_existing(index_dir: Path) -> FileIndex:
    """Open for reading; a missing, outdated or damaged index says how to rebuild it."""
    try:
        present = index_dir.is_dir() and whoosh_index.exists_in(str(index_dir))
        if present and format_of(index_dir) == FORMAT:
            return whoosh_index.open_dir(str(index_dir))
    except Exception as exc:  # Whoosh raises many kinds for damaged files
        raise IndexDamagedError(str(index_dir), f"{type(exc).__name__}: {exc}"[:160]) from None
    raise IndexMissingError(str(index_dir))


def create_index(index_dir: Path) -> FileIndex:
    """A new empty index (the build lock must be held); any index there before is replaced."""
    ix = whoosh_index.create_in(str(index_dir), make_schema())
    tmp = index_dir / f"{VERSION_FILE}.tmp"
    tmp.write_text(json.dumps({"format": FORMAT}))
    os.replace(tmp, index_dir / VERSION_FILE)
    return ix


@contextmanager
def build_lock(index_dir: Path, timeout: float) -> Iterator[None]:
    """Held for a whole indexing run, so two runs never interleave their batches."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WarpError(f"cannot create index folder {index_dir}: {exc.strerror or exc}") from None
    from whoosh.filedb.filestore import FileStorage

    lock = FileStorage(str(index_dir)).lock(BUILD_LOCK)
    if not try_for(lock.acquire, timeout=timeout, delay=0.1):
        raise IndexLockedError(
            f"another process is updating the index at {index_dir}: wait for it to finish, then run again"
        )
    try:
        yield
    finally:
        lock.release()


def writer(ix: FileIndex, timeout: float) -> SegmentWriter:
    """A Whoosh writer; a lock held by another writer becomes one ``IndexLockedError`` line."""
    try:
        return ix.writer(timeout=timeout, limitmb=128)
    except LockError:
        raise IndexLockedError(
            f"the index at {ix.storage.folder} is locked by another writer: wait for it to finish, then run again"
        ) from None


def file_records(ix: FileIndex) -> dict[str, dict[str, Any]]:
    """The manifest: resolved path -> {size, mtime_ns, sha, passages, reason}."""
    with ix.searcher() as searcher:
        return {fields["path"]: fields["meta"] for fields in searcher.documents(kind=FILE)}
