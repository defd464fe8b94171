"""Is the index usable? Damaged, empty, half-built, being built, or read-only, each said in one line.

A build records what it is doing in ``warp-build.json`` (the folders it indexes, and whether it
finished), so an empty index can say why it is empty: a build is running now (the build lock
is held), a build was killed before its first commit, or no file had text. A damaged index
(a truncated table of contents or segment) fails when its segments are opened; search then
says so, and ``build_index`` recreates it from the files, which are the truth.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex
from whoosh.reading import EmptyReader

from ..errors import (
    IndexDamagedError,
    IndexEmptyError,
    IndexMissingError,
    IndexWriteError,
)
from ..records import printable
from .store import (
    BUILD_LOCK,
    FILE,
    FORMAT,
    PASSAGE,
    create_index,
    file_records,
    format_of,
    open_existing,
)

BUILD_FILE = "warp-build.json"
_WRITE_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def _problem(exc: BaseException) -> str:
    """A damaged file's failure in a few words (``EOFError: Ran out of input``)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:160] if text else type(exc).__name__


def _build_record(index_dir: Path) -> dict[str, Any]:
    try:
        record = json.loads((index_dir / BUILD_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write_build_record(index_dir: Path, record: dict[str, Any]) -> None:
    tmp = index_dir / f"{BUILD_FILE}.tmp"
    tmp.write_text(json.dumps(record))
    os.replace(tmp, index_dir / BUILD_FILE)


def _record_build(index_dir: Path, roots: list[Path], complete: bool) -> None:
    """Add ``roots`` to the folders this index was built from, and set ``complete`` (written on change)."""
    record = _build_record(index_dir)
    known = [r for r in record.get("roots", []) if isinstance(r, str)]
    new = {**record, "roots": list(dict.fromkeys(known + [str(r) for r in roots])), "complete": complete}
    if new != record:
        _write_build_record(index_dir, new)


def start_build(index_dir: Path, roots: list[Path]) -> None:
    """Record that a build of ``roots`` began; until ``finish_build`` the index counts as incomplete."""
    _record_build(index_dir, roots, complete=False)


def finish_build(index_dir: Path, roots: list[Path]) -> None:
    """Record that the build of ``roots`` went through every file."""
    _record_build(index_dir, roots, complete=True)


def build_complete(index_dir: Path) -> bool:
    """False when the last build stopped before going through every file (killed, Ctrl-C)."""
    return bool(_build_record(index_dir).get("complete", True))


def build_running(index_dir: Path) -> bool:
    """True while another process holds the build lock (probed without waiting)."""
    lock = FileStorage(str(index_dir)).lock(BUILD_LOCK)
    try:
        if not lock.acquire(blocking=False):
            return True
    except OSError:  # a read-only folder: nobody can be building there
        return False
    lock.release()
    return False


def rebuild_command(index_dir: Path) -> str:
    """The ``jupyter-warp index`` command line that (re)builds this index from its folders."""
    roots = [r for r in _build_record(index_dir).get("roots", []) if isinstance(r, str)]
    folders = " ".join(shlex.quote(printable(r)) for r in roots) if roots else "FOLDER"
    return f"jupyter-warp index {folders} --index {shlex.quote(printable(str(index_dir)))}"


def _empty(index_dir: Path, files: int, skipped: int) -> IndexEmptyError:
    where, command = printable(str(index_dir)), rebuild_command(index_dir)
    if build_running(index_dir):
        message = (
            f"the index at {where} has no passages yet: a build is still running; "
            "wait for `jupyter-warp index` to finish, then try again"
        )
    elif not build_complete(index_dir):
        message = (
            f"the index at {where} is incomplete and has no passages (its last build was interrupted): "
            f"run `{command}` to build it"
        )
    elif skipped:
        message = (
            f"the index at {where} is empty: all {skipped} of its {files} files were skipped; "
            f"run `{command}` to see why, and add files with text"
        )
    else:
        message = (f"the index at {where} is empty (no supported files were found): "
                   f"run `{command}` on a folder of documents")
    return IndexEmptyError(str(index_dir), message)


def open_for_search(index_dir: Path) -> FileIndex:
    """Open an index that has passages, or raise the one-line reason it cannot be searched."""
    try:
        ix = open_existing(index_dir)
    except IndexDamagedError as exc:
        raise IndexDamagedError(printable(str(index_dir)), exc.problem, rebuild_command(index_dir)) from None
    except IndexMissingError:
        if index_dir.is_dir() and build_running(index_dir):
            raise _empty(index_dir, 0, 0) from None
        raise
    try:
        with ix.searcher() as searcher:  # opens every segment: a truncated one fails here
            has_passages = next(iter(searcher.document_numbers(kind=PASSAGE)), None) is not None
            if not has_passages:
                records = [fields.get("meta") or {} for fields in searcher.documents(kind=FILE)]
    except Exception as exc:  # Whoosh raises many kinds for damaged files
        ix.close()
        raise IndexDamagedError(printable(str(index_dir)), _problem(exc), rebuild_command(index_dir)) from None
    if not has_passages:
        ix.close()
        raise _empty(index_dir, len(records), sum(1 for r in records if r.get("reason")))
    return ix


def refreshed(ix: FileIndex, searcher: Any, weighting: Any, index_dir: Path) -> Any:
    """``searcher`` brought up to date; Whoosh's own refresh fails on an index that was empty."""
    try:
        if isinstance(searcher.reader(), EmptyReader):
            fresh = ix.searcher(weighting=weighting)
            searcher.close()
            return fresh
        return searcher.refresh()
    except Exception as exc:  # a segment committed since, now unreadable
        raise IndexDamagedError(printable(str(index_dir)), _problem(exc), rebuild_command(index_dir)) from None


def open_for_build(index_dir: Path) -> tuple[FileIndex, dict[str, dict[str, Any]], str]:
    """Open for writing (the build lock must be held): the index, its manifest, and why it was recreated.

    A damaged index, or one of another format, is recreated empty and every file is parsed
    again; the third value says why (empty when the index was opened as it was).
    """
    problem = ""
    try:
        present = whoosh_index.exists_in(str(index_dir))
    except Exception as exc:  # an unreadable table of contents
        present, problem = False, f"damaged ({_problem(exc)})"
    if present and format_of(index_dir) == FORMAT:
        ix = None
        try:
            ix = whoosh_index.open_dir(str(index_dir))
            return ix, file_records(ix), ""
        except Exception as exc:  # a truncated or missing segment
            problem = f"damaged ({_problem(exc)})"
            if ix is not None:
                ix.close()
    elif present:
        problem = "made by another version of jupyter-warp"
    ix = create_index(index_dir)
    if problem:
        whoosh_index.clean_files(ix.storage, ix.indexname, ix.latest_generation(), [])
    return ix, {}, problem


@contextmanager
def writable(index_dir: Path) -> Iterator[None]:
    """Turn a failed write in the index folder (read-only, permissions, disk full) into one line."""
    try:
        yield
    except OSError as exc:
        target = Path(os.fsdecode(exc.filename)) if exc.filename else index_dir
        if exc.errno not in _WRITE_ERRORS or not (target == index_dir or target.is_relative_to(index_dir)):
            raise
        where = printable(str(index_dir))
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            hint = "free some space, then run `jupyter-warp index` again (what was committed is kept)"
        else:
            hint = "make it writable, or choose another folder with --index"
        raise IndexWriteError(f"cannot write to the index folder {where} ({exc.strerror}): {hint}") from None
