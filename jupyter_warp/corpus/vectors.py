"""Passage vectors beside the Whoosh index: usearch for the vectors, SQLite for the bookkeeping.

``INDEX/vectors/ann.usearch`` holds one unit vector per passage under an integer key;
``INDEX/vectors/vectors.sqlite`` maps keys to passages (``doc_id``, ``path``), records each
file's content hash as embedded, the model, and the stamp of the Whoosh commit the vectors
match (``whoosh_stamp``): a search that finds another stamp knows the vectors are behind.

Sync runs after the Whoosh commit, under the build lock. It compares the hashes in Whoosh's
file manifest with those embedded: unchanged files cost nothing, new and changed files are
embedded, and the vectors of changed, deleted or now-skipped files are removed. Work is saved
every couple of minutes, the usearch file first and SQLite after, so a killed run leaves at
worst vectors that SQLite does not know, and the next sync removes those before it adds any.

Why usearch: it adds and removes vectors by key (faiss's HNSW cannot remove, and an index
that follows a folder must), searches the same index exactly or through its HNSW graph,
stores half-precision vectors, memory-maps the file for reading, and is one small wheel
that needs only numpy. hnswlib has had no release since 2023.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import WarpError
from .chunking import MAX_WORDS
from .embedding import DEFAULT_MODEL, Embedder, canonical, load_embedder, missing, passage_text, require
from .store import FORMAT, PASSAGE

FOLDER = "vectors"
DB_FILE = "vectors.sqlite"
ANN_FILE = "ann.usearch"
DTYPE = "f16"
"""Half precision: half the memory and disk (a million MiniLM passages: 0.77 GB of vectors), the
same dense nDCG@10 as f32 on the tldr set (0.7749 both), and faster exact search here (2.2
against 3.6 ms for the top 100 of 50,000)."""
EXACT_MAX = 100_000
"""Up to this many vectors search is exact (brute force, 2 ms at 50,000 on 2 cores); above it the
HNSW graph answers (under 1 ms, recall set by ``EXPANSION``)."""
EXPANSION = 256
"""HNSW candidates examined per query (at least twice the results asked for)."""
CHUNK = 256
"""Passages embedded per call (and per progress-bar update)."""
SAVE_SECONDS = 120.0
"""How often a long sync saves its work (a save rewrites the whole usearch file)."""
LAYOUT = f"{FORMAT}:{MAX_WORDS}"
"""Vectors are keyed by passage id: another index format or passage size re-embeds everything."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS passages (key INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, path TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS passages_path ON passages (path);
"""


def folder(index_dir: Path) -> Path:
    """Where an index keeps its vectors."""
    return Path(index_dir) / FOLDER


def exists(index_dir: Path) -> bool:
    """Whether the index has a vector store (it was built with embedding on)."""
    return (folder(index_dir) / DB_FILE).is_file()


def _meta(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT name, value FROM meta").fetchall())


def stored_model(index_dir: Path) -> str | None:
    """The model an index's vectors were made with, or None when it has none."""
    if not exists(index_dir):
        return None
    try:
        with _connect(folder(index_dir) / DB_FILE, readonly=True) as db:
            return _meta(db).get("model")
    except sqlite3.Error:
        return None


def whoosh_stamp(ix: Any) -> str:
    """The Whoosh commit: its generation and its table of contents' mtime (a rebuilt index
    starts its generations again, the mtime tells it apart)."""
    generation = ix.latest_generation()
    try:
        modified = ix.storage.file_modified(f"_{ix.indexname}_{generation}.toc")
    except Exception:  # another storage, or a commit under way: the generation alone
        modified = ""
    return f"{generation}:{modified}"


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
    db = sqlite3.connect(path, timeout=30)
    db.executescript(_SCHEMA)
    return db


def _new_ann(dim: int) -> Any:
    from usearch.index import Index

    return Index(ndim=dim, metric="cos", dtype=DTYPE)


class VectorWriter:
    """The build side: brings the vectors in line with Whoosh's manifest (see the module doc)."""

    def __init__(self, index_dir: Path, model: str) -> None:
        self.dir = folder(index_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.model = model
        self._embedder: Embedder | None = None
        self.db = _connect(self.dir / DB_FILE)
        meta = _meta(self.db)
        if meta.get("model") != model or meta.get("layout") != LAYOUT or "dim" not in meta:
            # new, another model, or other passages: every vector is made again
            self.db.executescript("DELETE FROM passages; DELETE FROM files; DELETE FROM meta;")
            (self.dir / ANN_FILE).unlink(missing_ok=True)
            self.db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("model", model), ("dim", str(self.embedder.dim)), ("layout", LAYOUT)],
            )
        self.ann = _new_ann(int(_meta(self.db)["dim"]))
        if (self.dir / ANN_FILE).is_file():
            self.ann.load(str(self.dir / ANN_FILE))
        self.next_key = int(self.db.execute("SELECT COALESCE(MAX(key), -1) + 1 FROM passages").fetchone()[0])
        self.last_save = time.monotonic()
        self.dirty = False

    @property
    def embedder(self) -> Embedder:
        """The model, loaded only when something is to be embedded."""
        if self._embedder is None:
            self._embedder = load_embedder(self.model)
        return self._embedder

    def close(self) -> None:
        """Close the database; call after the last ``sync``."""
        self.db.close()

    def sync(self, ix: Any, records: dict[str, dict[str, Any]], progress: bool) -> int:
        """Embed what changed since the last sync; returns the number of passages embedded."""
        from tqdm.auto import tqdm

        self._drop_orphans()
        want = {p: r.get("sha", "") for p, r in records.items() if r.get("passages") and not r.get("reason")}
        have = dict(self.db.execute("SELECT path, sha FROM files").fetchall())
        self._remove([p for p, sha in have.items() if want.get(p) != sha])
        todo = sorted(p for p, sha in want.items() if have.get(p) != sha)
        total = sum(int(records[p].get("passages", 0)) for p in todo)
        embedded = 0
        bar = tqdm(total=total, disable=not progress or not total, unit="passage", desc="embedding", leave=False)
        with bar, ix.searcher() as searcher:
            pending: list[tuple[str, dict[str, Any]]] = []
            files: list[str] = []
            for n, path in enumerate(todo):
                pending.extend((path, fields) for fields in _passages(searcher, path))
                files.append(path)
                if len(pending) >= CHUNK or n == len(todo) - 1:
                    embedded += self._add(pending, {p: want[p] for p in files})
                    bar.update(len(pending))
                    pending, files = [], []
                    if time.monotonic() - self.last_save > SAVE_SECONDS:
                        self._save()
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('stamp', ?)", (whoosh_stamp(ix),))
        self._save()
        return embedded

    def count(self) -> int:
        """Passages with a vector."""
        return int(self.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    def _add(self, passages: list[tuple[str, dict[str, Any]]], shas: dict[str, str]) -> int:
        """Embed whole files' passages and record them (files without passages are recorded too)."""
        import numpy as np

        if passages:
            texts = [passage_text(f.get("title", ""), f.get("heading", ""), f.get("content", "")) for _, f in passages]
            vectors = self.embedder.encode(texts)
            keys = np.arange(self.next_key, self.next_key + len(passages), dtype=np.uint64)
            self.ann.add(keys, vectors)
            self.dirty = True
            self.db.executemany(
                "INSERT INTO passages VALUES (?, ?, ?)",
                [(int(k), f["doc_id"], p) for k, (p, f) in zip(keys, passages, strict=True)],
            )
            self.next_key += len(passages)
        self.db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?)", list(shas.items()))
        return len(passages)

    def _remove(self, paths: list[str]) -> None:
        import numpy as np

        for start in range(0, len(paths), 500):
            chunk = paths[start : start + 500]
            marks = ",".join("?" * len(chunk))
            keys = [k for (k,) in self.db.execute(f"SELECT key FROM passages WHERE path IN ({marks})", chunk)]
            if keys:
                self.ann.remove(np.asarray(keys, dtype=np.uint64))
                self.dirty = True
            self.db.execute(f"DELETE FROM passages WHERE path IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM files WHERE path IN ({marks})", chunk)

    def _drop_orphans(self) -> None:
        """Vectors saved by a run killed before its SQLite commit: no row names them."""
        import numpy as np

        if len(self.ann) == self.count():
            return
        known = np.fromiter((k for (k,) in self.db.execute("SELECT key FROM passages")), dtype=np.uint64)
        stored = np.asarray(self.ann.keys, dtype=np.uint64)
        orphans = np.setdiff1d(stored, known)
        if len(orphans):
            self.ann.remove(orphans)
            self.dirty = True

    def _save(self) -> None:
        """The usearch file first, then SQLite (see the module doc); an unchanged file is not rewritten."""
        if self.dirty:
            tmp = self.dir / f"{ANN_FILE}.tmp"
            self.ann.save(str(tmp))
            os.replace(tmp, self.dir / ANN_FILE)
            self.dirty = False
        self.db.commit()
        self.last_save = time.monotonic()


def _passages(searcher: Any, path: str) -> list[dict[str, Any]]:
    docs = [d for d in searcher.documents(path=path) if d.get("kind") == PASSAGE]
    return sorted(docs, key=lambda d: (d.get("meta") or {}).get("n", 0))


def sync(ix: Any, index_dir: Path, records: dict[str, dict[str, Any]], model: str, progress: bool) -> tuple[int, int]:
    """Bring the vectors at ``index_dir`` in line with ``records``; (embedded, vectors in the store)."""
    writer = VectorWriter(index_dir, model)
    try:
        embedded = writer.sync(ix, records, progress)
        return embedded, writer.count()
    finally:
        writer.close()


class VectorIndex:
    """The search side: nearest passages to a vector, and whether the store matches Whoosh."""

    def __init__(self, index_dir: Path) -> None:
        self.dir = folder(index_dir)
        if not exists(index_dir):
            raise WarpError(
                f"the index at {index_dir} has no vectors: run `jupyter-warp index PATH... --index {index_dir} --embed`"
            )
        self._lock = threading.Lock()
        self._db = _connect(self.dir / DB_FILE, readonly=True)
        meta = _meta(self._db)
        self.model = meta.get("model", "")
        self.dim = int(meta.get("dim", 0))
        self._stamp: tuple[int, int] | None = None
        self._ann: Any = None
        self.refresh()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def current(self, ix: Any) -> bool:
        """Whether the vectors were synced with the Whoosh commit ``ix`` has now."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = 'stamp'").fetchone()
        return row is not None and row[0] == whoosh_stamp(ix)

    def refresh(self) -> None:
        """Map the usearch file again when a sync replaced it."""
        path = self.dir / ANN_FILE
        try:
            st = path.stat()
        except FileNotFoundError:
            self._ann, self._stamp = None, None
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            from usearch.index import Index

            self._ann = Index.restore(str(path), view=True)
            self._stamp = stamp

    def __len__(self) -> int:
        return 0 if self._ann is None else len(self._ann)

    def search(self, vector: Any, k: int) -> list[tuple[str, float]]:
        """``(doc_id, cosine similarity)`` of the ``k`` nearest passages, nearest first."""
        ann = self._ann
        if ann is None or k < 1 or not len(ann):
            return []
        exact = len(ann) <= EXACT_MAX
        if not exact:
            ann.expansion_search = max(EXPANSION, 2 * k)
        matches = ann.search(vector, min(k, len(ann)), exact=exact)
        keys = [int(key) for key in matches.keys]
        sims = [1.0 - float(d) for d in matches.distances]
        with self._lock:
            ids = dict(self._lookup(keys))
        return [(ids[key], sim) for key, sim in zip(keys, sims, strict=True) if key in ids]

    def _lookup(self, keys: Iterable[int]) -> list[tuple[int, str]]:
        keys = list(keys)
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        return self._db.execute(f"SELECT key, doc_id FROM passages WHERE key IN ({marks})", keys).fetchall()


def plan(index_dir: Path, embed: bool | None, model: str | None) -> str | None:
    """The model this build embeds with, or None: asked for (``embed`` or ``model``), or kept
    up because the index already has vectors. Asked for without the extra: ``MissingExtraError``."""
    if embed is False:
        return None
    stored = stored_model(index_dir)
    name = canonical(model) if model else (stored or DEFAULT_MODEL)
    if embed or model:
        require(name)
        return name
    if stored is not None and missing(name) is None:
        return name
    return None


def update(ix: Any, index_dir: Path, records: dict[str, dict[str, Any]], summary: Any, model: str | None,
           progress: bool) -> None:
    """The indexer's hook: sync when ``model`` is set, else note vectors left behind."""
    if model is None:
        if exists(index_dir):
            with _connect(folder(index_dir) / DB_FILE, readonly=True) as db:
                stamp = _meta(db).get("stamp")
            if stamp != whoosh_stamp(ix):
                summary.notes.append((str(index_dir), "vectors not updated: dense and hybrid search need "
                                      "`pip install 'jupyter-warp[semantic]'` and `jupyter-warp index` again"))
        return
    t0 = time.perf_counter()
    summary.embedded, summary.vectors = sync(ix, index_dir, records, model, progress)
    summary.embed_seconds = time.perf_counter() - t0
