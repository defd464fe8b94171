"""Fusing a BM25 ranking with a dense one: weighted reciprocal rank fusion, or a weighted score sum.

RRF (Cormack et al., 2009) scores an item ``sum_i w_i / (c + rank_i)`` over the rankings it
appears in; it needs no score calibration, which suits BM25 scores (unbounded, query-dependent)
beside cosine similarities. The weighted sum min-max normalises each ranking's scores to
[0, 1] within the candidates and adds them, ``w * dense + (1 - w) * bm25``, an item missing from
a ranking counting 0. ``DEFAULT`` was tuned on one bench set and checked on the other (README,
"Semantic search").
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..errors import ConfigError

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Fusion:
    """How to fuse: ``method`` ``"rrf"`` or ``"sum"``; ``dense`` is the dense ranking's weight (0 to 1)."""

    method: str = "rrf"
    dense: float = 0.5
    c: float = 60.0
    depth: int = 100
    """Candidates taken from each ranking (at least the ``k`` asked for)."""

    def __post_init__(self) -> None:
        if self.method not in ("rrf", "sum"):
            raise ConfigError(f"unknown fusion {self.method!r}: use rrf or sum")
        if not 0.0 <= self.dense <= 1.0:
            raise ConfigError(f"fusion weight {self.dense} is outside 0..1")

    def __str__(self) -> str:
        extra = f",c={self.c:g}" if self.method == "rrf" else ""
        return f"{self.method}(dense={self.dense:g}{extra},depth={self.depth})"

    def fuse(self, bm25: Sequence[tuple[K, float]], dense: Sequence[tuple[K, float]]) -> list[tuple[K, float]]:
        """One ranking of ``(key, fused score)``, best first, from two rankings best first."""
        if self.method == "rrf":
            return rrf([bm25, dense], [1.0 - self.dense, self.dense], self.c)
        return weighted_sum([bm25, dense], [1.0 - self.dense, self.dense])


DEFAULT = Fusion("sum", dense=0.5, depth=50)


def rrf(
    rankings: Sequence[Sequence[tuple[K, float]]], weights: Sequence[float], c: float = 60.0
) -> list[tuple[K, float]]:
    """Weighted reciprocal rank fusion; ties keep the order of first appearance."""
    scores: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, (key, _) in enumerate(ranking, 1):
            scores[key] = scores.get(key, 0.0) + weight / (c + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def weighted_sum(rankings: Sequence[Sequence[tuple[K, float]]], weights: Sequence[float]) -> list[tuple[K, float]]:
    """Min-max normalised scores, weighted and added; ties keep the order of first appearance."""
    scores: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if not ranking:
            continue
        values = [s for _, s in ranking]
        lo, hi = min(values), max(values)
        span = hi - lo
        for key, s in ranking:
            scores[key] = scores.get(key, 0.0) + weight * ((s - lo) / span if span > 0 else 1.0)
    return sorted(scores.items(), key=lambda item: -item[1])
