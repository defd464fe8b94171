"""Local files: loaders per format, passages, a Whoosh index, and search for the WARP loop.

``build_index`` indexes (incrementally) every supported file under some folders, and with
``embed=True`` also embeds the passages (the ``semantic`` extra); ``open_index(path,
retrieval=...)`` gives an ``Index`` whose ``search_many`` is the ``Searcher`` the policy uses:
``retrieval`` is one of ``RETRIEVALS`` (``auto``, the default, is hybrid where the index has
vectors and the extra is installed, BM25 otherwise).
"""

from __future__ import annotations

from ..records import Passage, Searcher
from .hybrid import RETRIEVALS
from .indexer import IndexSummary, build_index
from .loaders import register, supported_suffixes
from .search import Index, open_index

__all__ = [
    "build_index",
    "open_index",
    "Index",
    "RETRIEVALS",
    "IndexSummary",
    "Passage",
    "Searcher",
    "register",
    "supported_suffixes",
]
