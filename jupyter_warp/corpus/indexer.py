"""Build or update the index: only new and changed files are parsed; work is committed in batches.

A file is unchanged when its size and mtime match the manifest; when only the mtime moved
(a ``touch``, a checkout) the content hash decides, and an equal hash costs no parsing. A run
killed at any moment leaves the last committed batch, which is a consistent index; the next
run picks up from there because the manifest is committed with the passages.
"""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UnreadableFileError
from ..records import printable
from . import vectors
from .chunking import MAX_WORDS, chunk_blocks
from .health import finish_build, open_for_build, start_build, writable
from .limits import DEFAULT_MAX_FILE_MB, DEFAULT_MAX_PDF_PAGES, DEFAULT_MAX_TEXT_MB, Limits, OverLimitError
from .loaders import load, loader_for
from .store import FILE, PASSAGE, build_lock, file_records, searchable, writer
from .walk import Found, inside, read_file, resolve_roots, walk

COMMIT_FILES = 20_000
COMMIT_SECONDS = 60.0
"""A commit every minute (or 20,000 files) bounds what a killed run loses; fewer commits mean
fewer index segments, and each segment costs every query time."""


@dataclass
class IndexSummary:
    """What one ``build_index`` call did, printed by ``jupyter-warp index``."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    skipped_reasons: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) for every file left out, including those skipped by earlier runs."""
    notes: list[tuple[str, str]] = field(default_factory=list)
    """(path, note) for files indexed with a caveat (not UTF-8, unreadable pages)."""
    passages: int = 0
    """Passages written by this run."""
    total_passages: int = 0
    """Passages in the index after this run."""
    seconds: float = 0.0
    rebuilt: str = ""
    """Why the index was recreated from the files (damaged, another format); empty when it was not."""
    embedded: int = 0
    """Passages embedded by this run (dense retrieval; see ``vectors``)."""
    vectors: int | None = None
    """Vectors in the index after this run; None when this run did not embed."""
    embed_seconds: float = 0.0

    def __str__(self) -> str:
        text = (
            f"{self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged, {self.skipped} skipped; {self.passages:,} passages indexed "
            f"({self.total_passages:,} in the index) in {self.seconds:.1f} s"
        )
        if self.vectors is not None:
            text += f"; {self.embedded:,} passages embedded ({self.vectors:,} vectors) in {self.embed_seconds:.1f} s"
        return text


def file_hash(data: bytes) -> str:
    """The content hash that tells a changed file from one that was only touched."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def parse(
    found: Found, data: bytes, limits: Limits, max_words: int = MAX_WORDS
) -> tuple[list[dict[str, Any]], str | None, bool]:
    """Passage fields and a note for one file read within ``limits``, and whether a limit
    cut it short; raises ``UnreadableFileError`` to skip it."""
    loader = loader_for(Path(found.path))
    if loader is None:
        raise UnreadableFileError(found.path, "unsupported file type")
    try:
        doc = load(loader, Path(found.path), data, limits)
    except UnreadableFileError:
        raise
    except RecursionError:
        raise UnreadableFileError(found.path, "too deeply nested to parse") from None
    except Exception as exc:  # a loader bug or a library failure must cost one file, not the run
        raise UnreadableFileError(found.path, f"cannot parse ({type(exc).__name__}: {exc})"[:200]) from None
    pieces = chunk_blocks(doc.blocks, max_words)
    if not pieces:
        raise UnreadableFileError(found.path, "no text")
    fields = [
        {
            "kind": PASSAGE,
            "doc_id": f"{found.path}#{n}",
            "path": found.path,
            "title": one_line(doc.title),
            "heading": p.heading,
            "content": p.text,
            "body": searchable(doc.title, p.heading, p.text),
            "meta": {"n": n, "page": p.page, "start": p.start, "end": p.end},
        }
        for n, p in enumerate(pieces)
    ]
    return fields, doc.note, doc.capped


def one_line(text: str) -> str:
    """A title on one line, control characters escaped: it is printed and listed in References."""
    return printable(" ".join(text.split()))


def build_index(
    paths: Sequence[str | Path],
    index_dir: str | Path,
    progress: bool = True,
    *,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    max_text_mb: float = DEFAULT_MAX_TEXT_MB,
    max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES,
    commit_every: int = COMMIT_FILES,
    lock_timeout: float = 2.0,
    embed: bool | None = None,
    embed_model: str | None = None,
) -> IndexSummary:
    """Build or update the index at ``index_dir`` from every supported file under ``paths``.

    Files indexed earlier from other roots stay; files under these roots that are gone (or
    now skipped) are removed. ``max_text_mb`` and ``max_pdf_pages`` bound what one file may
    expand to (see ``limits``). A damaged index is rebuilt from the files (``rebuilt`` says
    why). Raises ``IndexLockedError`` when another run holds the index, ``IndexWriteError``
    when its folder cannot be written. ``embed`` (or naming ``embed_model``) also embeds the
    passages for dense retrieval; an index that has vectors keeps them current unless
    ``embed=False`` (see ``vectors.plan``).
    """
    t0 = time.perf_counter()
    roots = resolve_roots(list(paths))
    index_path = Path(index_dir).expanduser().resolve()
    limits = Limits.from_mb(max_file_mb, max_text_mb, max_pdf_pages)
    max_bytes = limits.max_file_bytes
    summary = IndexSummary()
    model = vectors.plan(index_path, embed, embed_model)
    with writable(index_path), build_lock(index_path, lock_timeout):
        ix, records, summary.rebuilt = open_for_build(index_path)
        try:
            found = walk(roots, index_path, max_bytes)
            summary.skipped_reasons.extend(found.skipped)
            seen = {f.path for f in found.files}
            gone = sorted(p for p in records if p not in seen and inside(Path(p), roots))
            todo: list[Found] = []
            for f in found.files:
                rec = records.get(f.path)
                if rec and rec["size"] == f.size and rec["mtime_ns"] == f.mtime_ns and not _stale(rec, limits):
                    _count_unchanged(summary, f.path, rec)
                else:
                    todo.append(f)
            if gone or todo:
                start_build(index_path, roots)
                _apply(ix, gone, todo, records, summary, limits, commit_every, lock_timeout, progress)
            finish_build(index_path, roots)
            summary.removed = len(gone)
            final = file_records(ix) if (gone or todo) else records
            summary.total_passages = sum(r.get("passages", 0) for r in final.values())
            vectors.update(ix, index_path, final, summary, model, progress)
        finally:
            ix.close()
    summary.skipped = len(summary.skipped_reasons)
    summary.skipped_reasons.sort()
    summary.seconds = time.perf_counter() - t0
    return summary


def _stale(rec: dict[str, Any], limits: Limits) -> bool:
    """A file that limits cut short or skipped is read again when the limits change."""
    return rec.get("limits") not in (None, limits.key())


def _count_unchanged(summary: IndexSummary, path: str, rec: dict[str, Any]) -> None:
    if rec.get("reason"):
        summary.skipped_reasons.append((path, rec["reason"]))
    else:
        summary.unchanged += 1
        if rec.get("note"):
            summary.notes.append((path, rec["note"]))


class _Interrupt:
    """Ctrl-C during indexing: finish the current file, commit, then raise KeyboardInterrupt.

    A second Ctrl-C interrupts at once (the batch is discarded). Only the main thread can
    take signals; elsewhere an interrupt simply discards the batch.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def __enter__(self) -> _Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None and not self.requested:
            signal.signal(signal.SIGINT, self._previous)


def _apply(
    ix: Any,
    gone: list[str],
    todo: list[Found],
    records: dict[str, dict[str, Any]],
    summary: IndexSummary,
    limits: Limits,
    commit_every: int,
    lock_timeout: float,
    progress: bool,
) -> None:
    from tqdm.auto import tqdm

    w = writer(ix, lock_timeout)
    try:
        for path in gone:
            w.delete_by_term("path", path)
        pending = 0
        last_commit = time.monotonic()
        bar = tqdm(total=len(todo), disable=not progress or not todo, unit="file", desc="indexing", leave=False)
        with bar, _Interrupt() as interrupt:
            for f in todo:
                if interrupt.requested:
                    break
                _index_one(w, f, records.get(f.path), summary, limits)
                bar.update(1)
                pending += 1
                if pending >= commit_every or time.monotonic() - last_commit > COMMIT_SECONDS:
                    w.commit()
                    w = writer(ix, lock_timeout)
                    pending = 0
                    last_commit = time.monotonic()
            w.commit()
    except BaseException:
        try:
            w.cancel()
        except Exception:  # the writer may already be closed by a failed commit
            pass
        raise
    if interrupt.requested:
        raise KeyboardInterrupt


def _index_one(w: Any, f: Found, rec: dict[str, Any] | None, summary: IndexSummary, limits: Limits) -> None:
    record: dict[str, Any] = {
        "size": f.size, "mtime_ns": f.mtime_ns, "sha": "", "passages": 0, "reason": "", "note": "",
    }
    try:
        data = read_file(f, limits.max_file_bytes)
        record["size"] = len(data)
        record["sha"] = file_hash(data)
        if rec and rec.get("sha") == record["sha"] and not _stale(rec, limits):
            kept: dict[str, Any] = {k: rec[k] for k in ("passages", "reason", "note", "limits") if k in rec}
            record.update(kept)
            w.update_document(kind=FILE, doc_id=f.path, path=f.path, meta=record)
            _count_unchanged(summary, f.path, record)
            return
        passages, note, capped = parse(f, data, limits)
    except UnreadableFileError as exc:
        record["reason"] = exc.reason
        if isinstance(exc, OverLimitError):
            record["limits"] = limits.key()
        if rec is not None:
            w.delete_by_term("path", f.path)
        if record["sha"] and "not installed" not in exc.reason:
            w.add_document(kind=FILE, doc_id=f.path, path=f.path, meta=record)
        summary.skipped_reasons.append((f.path, exc.reason))
        return
    if rec is not None:
        w.delete_by_term("path", f.path)
        summary.updated += 1
    else:
        summary.added += 1
    for fields in passages:
        w.add_document(**fields)
    record.update(passages=len(passages), note=note or "")
    if capped:
        record["limits"] = limits.key()
    w.add_document(kind=FILE, doc_id=f.path, path=f.path, meta=record)
    summary.passages += len(passages)
    if note:
        summary.notes.append((f.path, note))
