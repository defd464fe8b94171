"""Search: BM25F over title, headings and text, a query parser that never raises, shared top-k.

User and model text goes through a cut-down Whoosh parser: quotes make phrases, brackets
group, ``AND``/``OR``/``NOT`` work, and everything else (colons, wildcards, carets) is plain
text. Terms are OR-ed, as BM25 expects. If parsing still fails, the query's terms are OR-ed
directly; if that fails too, the answer is no passages, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from whoosh import highlight, qparser, scoring
from whoosh import query as wq

from ..records import Passage
from .analysis import warp_analyzer
from .health import open_for_search, refreshed
from .store import FILE, PASSAGE

FIELD = "body"
"""Title, heading path and text in one field, weighted at index time (see ``store.searchable``)."""
K1, B = 1.2, 0.75
MAX_QUERY_CHARS = 2000
"""Longer queries are cut (a pasted page is not a keyword query, and costs seconds)."""


def clean_query(text: str) -> str:
    """A query as searched: whitespace collapsed, cut at ``MAX_QUERY_CHARS``."""
    return " ".join(str(text).split())[:MAX_QUERY_CHARS]


def _parser(schema: Any) -> qparser.QueryParser:
    parser = qparser.QueryParser(FIELD, schema, group=qparser.OrGroup)
    for plugin in (
        qparser.FieldsPlugin,
        qparser.WildcardPlugin,
        qparser.RangePlugin,
        qparser.BoostPlugin,
        qparser.EveryPlugin,
        qparser.SingleQuotePlugin,
    ):
        parser.remove_plugin_class(plugin)
    return parser


class Index:
    """An open index: search it, count it, close it (also a context manager)."""

    def __init__(self, ix: Any, path: Path) -> None:
        self.path = path
        self._ix = ix
        self._parser = _parser(ix.schema)
        self._analyzer = warp_analyzer()
        self._weighting = scoring.BM25F(B=B, K1=K1)
        self._searcher = ix.searcher(weighting=self._weighting)

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the searcher and the index files."""
        self._searcher.close()
        self._ix.close()

    def refresh(self) -> None:
        """See what another process committed since the index was opened."""
        self._searcher = refreshed(self._ix, self._searcher, self._weighting, self.path)

    def doc_count(self) -> int:
        """Passages in the index."""
        return sum(1 for _ in self._searcher.document_numbers(kind=PASSAGE))

    def file_count(self) -> int:
        """Files in the index (skipped ones included)."""
        return sum(1 for _ in self._searcher.document_numbers(kind=FILE))

    def parse(self, text: str) -> wq.Query | None:
        """The Whoosh query for ``text``, or None when it has no searchable term."""
        text = clean_query(text)
        if not text:
            return None
        try:
            q = self._parser.parse(text)
            if q is not None and q is not wq.NullQuery and list(q.terms()):
                return q
        except Exception:  # the parser's own corner cases: fall back to the plain terms
            pass
        return self._plain(text)

    def _plain(self, text: str) -> wq.Query | None:
        try:
            terms = list(dict.fromkeys(t.text for t in self._analyzer(text)))
        except Exception:
            return None
        if not terms:
            return None
        return wq.Or([wq.Term(FIELD, t) for t in terms])

    def search(self, query: str, k: int = 10) -> list[Passage]:
        """The ``k`` best passages for one query, best first."""
        self.refresh()
        return self._search(query, k)

    def _search(self, query: str, k: int) -> list[Passage]:
        if k < 1:
            return []
        q = self.parse(query)
        if q is None:
            return []
        try:
            hits = self._searcher.search(q, limit=k)
        except Exception:  # e.g. a phrase on a field without positions: retry with plain terms
            plain = self._plain(query)
            if plain is None:
                return []
            try:
                hits = self._searcher.search(plain, limit=k)
            except Exception:
                return []
        return [_passage(hit.fields(), hit.score) for hit in hits if hit.get("kind") == PASSAGE]

    def search_many(self, queries: Sequence[str], k: int) -> list[Passage]:
        """Top ``k`` passages for 1 to 5 keyword queries, shared out round-robin, de-duplicated.

        The queries take turns, each adding its best passage not taken yet, so every keyword
        gets its share and a query with few hits leaves room for the others. A passage found
        twice, or the same text in two files, is kept once and costs no query its turn.
        """
        if isinstance(queries, str):
            queries = [queries]
        unique = list(dict.fromkeys(q.strip() for q in queries if q and q.strip()))
        if not unique or k < 1:
            return []
        self.refresh()
        rankings = [self._search(q, k) for q in unique]
        out: list[Passage] = []
        seen: set[str] = set()
        cursors = [0] * len(rankings)
        while len(out) < k and any(c < len(r) for c, r in zip(cursors, rankings, strict=True)):
            for i, ranking in enumerate(rankings):
                while cursors[i] < len(ranking):
                    p = ranking[cursors[i]]
                    cursors[i] += 1
                    keys = (p.doc_id, " ".join(p.text.split()))
                    if keys[0] not in seen and keys[1] not in seen:
                        seen.update(keys)
                        out.append(p)
                        break
                if len(out) == k:
                    break
        return out

    def highlight(self, passage: Passage, query: str, marker: tuple[str, str] = ("**", "**"), chars: int = 300) -> str:
        """The parts of ``passage`` that match ``query``, matched words between ``marker``."""
        q = self.parse(query)
        words = {t for f, t in q.all_terms() if f == FIELD} if q is not None else set()
        words |= {t.text for t in self._analyzer(str(query)[:MAX_QUERY_CHARS])}
        text = passage.text
        if words:
            formatter = _Marker(*marker)
            fragmenter = highlight.ContextFragmenter(maxchars=chars, surround=chars // 3)
            try:
                found = highlight.highlight(text, frozenset(words), self._analyzer, fragmenter, formatter, top=2)
            except Exception:  # highlighting is cosmetic
                found = ""
            if found:
                return " ".join(found.split())
        snippet = " ".join(text.split())
        return snippet[:chars] + ("..." if len(snippet) > chars else "")


class _Marker(highlight.Formatter):  # type: ignore[misc]  # whoosh ships no types
    between = " ... "

    def __init__(self, before: str, after: str) -> None:
        self.before, self.after = before, after

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"{self.before}{highlight.get_text(text, token, replace)}{self.after}"


def _passage(fields: dict[str, Any], score: float) -> Passage:
    meta = fields.get("meta") or {}
    return Passage(
        doc_id=fields["doc_id"],
        text=fields.get("content", ""),
        path=fields.get("path", ""),
        title=fields.get("title", ""),
        page=meta.get("page"),
        start=meta.get("start", 0),
        end=meta.get("end", 0),
        heading=fields.get("heading", ""),
        score=float(score),
    )


def open_index(index_dir: str | Path, retrieval: str = "auto") -> Index:
    """Open the index at ``index_dir``; a missing, empty or damaged one raises an
    ``IndexMissingError`` (``IndexEmptyError``, ``IndexDamagedError``) that says how to (re)build it.

    ``retrieval``: ``bm25``, ``dense``, ``hybrid``, or ``auto`` (hybrid where the index has
    current vectors and the semantic extra is installed, else BM25; see ``hybrid``).
    """
    from .hybrid import check_retrieval, open_semantic

    path = Path(index_dir).expanduser().resolve()
    check_retrieval(retrieval)
    ix = open_for_search(path)
    if retrieval == "bm25":
        return Index(ix, path)
    try:
        return open_semantic(ix, path, retrieval)
    except BaseException:
        ix.close()
        raise
