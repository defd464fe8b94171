"""Dense and hybrid retrieval over the same passages as BM25: ``open_index(path, retrieval=...)``.

``retrieval`` is ``bm25`` (Whoosh alone, as before), ``dense`` (nearest passages by embedding),
``hybrid`` (both rankings fused, see ``fusion``) or ``auto``, the default: hybrid when the
index has current vectors and the semantic extra is installed, BM25 otherwise. So an index
built without ``--embed``, or a machine without the extra, searches exactly as before;
naming ``dense`` or ``hybrid`` where that cannot work raises one line that says what to do.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigError, WarpError
from ..records import Passage
from . import vectors
from .embedding import Embedder, load_embedder, missing, require
from .fusion import DEFAULT, Fusion
from .search import Index, _passage, clean_query

RETRIEVALS = ("auto", "bm25", "dense", "hybrid")
log = logging.getLogger(__name__)


def check_retrieval(retrieval: str) -> str:
    """``retrieval`` itself, or ``ConfigError`` naming the choices."""
    if retrieval not in RETRIEVALS:
        raise ConfigError(f"unknown retrieval {retrieval!r}: use {', '.join(RETRIEVALS)}")
    return retrieval


def _reindex(path: Path) -> str:
    return f"run `jupyter-warp index PATH... --index {path} --embed` with the semantic extra installed"


class SemanticIndex(Index):
    """An ``Index`` whose searches are dense or hybrid; highlighting and counts are the same."""

    def __init__(self, ix: Any, path: Path, retrieval: str, embedder: Embedder, store: vectors.VectorIndex,
                 fusion: Fusion = DEFAULT) -> None:
        super().__init__(ix, path)
        self.retrieval = retrieval
        self.fusion = fusion
        self._embedder = embedder
        self._vectors = store
        self._current = True  # open_semantic has just checked; every search refreshes first
        self._warned = False

    def close(self) -> None:
        """Close the vector store as well as the Whoosh index."""
        self._vectors.close()
        super().close()

    def refresh(self) -> None:
        """See new Whoosh commits and a newer vector file; note whether they still match."""
        super().refresh()
        self._vectors.refresh()
        self._current = self._vectors.current(self._ix)

    def _search(self, query: str, k: int) -> list[Passage]:
        text = clean_query(query)
        if k < 1 or not text:
            return []
        if not self._current:  # the index changed under a running search: BM25 until the vectors catch up
            if not self._warned:
                log.warning("vectors at %s are older than the index: searching with BM25 alone", self.path)
                self._warned = True
            return super()._search(query, k)
        depth = max(k, self.fusion.depth)
        dense = self.dense(text, k if self.retrieval == "dense" else depth)
        if self.retrieval == "dense":
            return [p for p in (self._fetch(d, s) for d, s in dense) if p is not None][:k]
        lexical = {p.doc_id: p for p in super()._search(query, depth)}
        fused = self.fusion.fuse([(d, p.score) for d, p in lexical.items()], dense)
        out: list[Passage] = []
        for doc_id, score in fused:
            p = lexical.get(doc_id) or self._fetch(doc_id, score)
            if p is not None:
                p.score = score
                out.append(p)
                if len(out) == k:
                    break
        return out

    def dense(self, text: str, k: int) -> list[tuple[str, float]]:
        """``(doc_id, cosine similarity)`` of the ``k`` passages nearest to ``text``."""
        return self._vectors.search(self._embedder.query(text), k)

    def _fetch(self, doc_id: str, score: float) -> Passage | None:
        fields = self._searcher.document(doc_id=doc_id)
        return _passage(fields, score) if fields else None


def open_semantic(ix: Any, path: Path, retrieval: str, fusion: Fusion = DEFAULT) -> Index:
    """The ``Index`` for ``retrieval`` (not ``bm25``) on an open Whoosh index."""
    if retrieval == "auto":
        if not vectors.exists(path):
            return Index(ix, path)
        model = vectors.stored_model(path)
        if missing(model) is not None:
            log.warning("the index at %s has vectors but the semantic extra is not installed: "
                        "searching with BM25 alone", path)
            return Index(ix, path)
    else:
        require(vectors.stored_model(path))
    store = vectors.VectorIndex(path)
    try:
        if not store.current(ix):
            if retrieval == "auto":
                log.warning("vectors at %s are older than the index (%s): searching with BM25 alone",
                            path, _reindex(path))
                store.close()
                return Index(ix, path)
            raise WarpError(f"the vectors at {path} are older than the index: {_reindex(path)}")
        embedder = load_embedder(store.model)
        if embedder.dim != store.dim:
            raise WarpError(f"model {store.model} gives {embedder.dim} dimensions, "
                            f"the vectors at {path} have {store.dim}: {_reindex(path)}")
        return SemanticIndex(ix, path, "hybrid" if retrieval == "auto" else retrieval, embedder, store, fusion)
    except BaseException:
        store.close()
        raise
