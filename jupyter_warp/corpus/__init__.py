"""Local files: loaders per format, passages, a Whoosh index, and search for the WARP loop.

``build_index`` indexes (incrementally) every supported file under some folders;
``open_index`` gives an ``Index`` whose ``search_many`` is the ``Searcher`` the policy uses.
"""

from __future__ import annotations

from ..records import Passage, Searcher
from .indexer import IndexSummary, build_index
from .loaders import register, supported_suffixes
from .search import Index, open_index

__all__ = [
    "build_index",
    "open_index",
    "Index",
    "IndexSummary",
    "Passage",
    "Searcher",
    "register",
    "supported_suffixes",
]
