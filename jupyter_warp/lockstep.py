"""Whether lockstep batching pays on this backend and machine, measured while it runs.

A lockstep round asks every running question's next turn in one batched call. That is
faster only where the backend answers a batch in less time than the same requests one
after another: a batching server or an in-process model usually does, a small CPU with a
server that cannot batch may not. ``Pacer`` times the calls it makes. Until it knows, it
sends one request of a round alone and the rest together (the same kind of work, since
the questions of a round are mostly in the same state); once both sides have been
measured ``samples`` times it compares the seconds per generated token and keeps the
batch, tries half of it, or answers one request at a time, and says which once, through
``on_note``. ``run_turns`` is what a batch driver calls: rounds through a ``Pacer``, or, on
a backend that can refill its batch, no rounds at all. No I/O; the clock is a parameter
so that tests can script the costs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping, Sequence, TypeVar

from .records import ChatRequest, Completion

log = logging.getLogger(__name__)

Generate = Callable[[Sequence[ChatRequest]], list[Completion]]
K = TypeVar("K", bound=Hashable)


@dataclass
class _Cost:
    """Seconds and generated tokens summed over the calls of one kind."""

    seconds: float = 0.0
    tokens: int = 0
    calls: int = 0

    def add(self, seconds: float, tokens: int) -> None:
        self.seconds += seconds
        self.tokens += tokens
        self.calls += 1

    @property
    def per_token(self) -> float:
        return self.seconds / max(1, self.tokens)


@dataclass
class Pacer:
    """Splits each lockstep round into backend calls, by what the earlier calls cost.

    Parameters
    ----------
    max_batch:
        Most requests in one call; None: a whole round.
    samples:
        Calls of each kind (one request alone, several together) measured before deciding.
    margin:
        A batch is given up only when it costs more than ``1 + margin`` times the seconds
        per token of one request alone (timings on a shared machine are noisy).
    clock:
        Seconds, monotonic; ``time.perf_counter`` unless a test scripts it.
    on_note:
        Told once, in one line, when the pacer settles on smaller batches or none.
    """

    max_batch: int | None = None
    samples: int = 2
    margin: float = 0.0
    clock: Callable[[], float] = time.perf_counter
    on_note: Callable[[str], None] | None = None
    limit: int | None = field(init=False, default=None)
    """The batch size in force; None: no limit yet beyond ``max_batch``."""
    settled: bool = field(init=False, default=False)
    notes: list[str] = field(init=False, default_factory=list)
    _single: _Cost = field(init=False, default_factory=_Cost)
    _batched: _Cost = field(init=False, default_factory=_Cost)
    _largest_round: int = field(init=False, default=0)
    _last_ratio: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.limit = self.max_batch

    def plan(self, n: int) -> list[int]:
        """The sizes of the calls, in order, that answer a round of ``n`` requests."""
        if n <= 0:
            return []
        self._largest_round = max(self._largest_round, n)
        cap = n if self.limit is None else max(1, min(self.limit, n))
        if not self.settled and cap > 1 and self._single.calls < self.samples:
            if n >= 3:
                return [1] + _even(n - 1, cap)
            if self._single.calls <= self._batched.calls:
                return [1] * n
        return _even(n, cap)

    def observe(self, size: int, seconds: float, completions: Sequence[Completion]) -> None:
        """Record one call of ``size`` requests that took ``seconds``; decide when both kinds are known."""
        tokens = sum(max(1, c.completion_tokens) for c in completions)
        (self._single if size == 1 else self._batched).add(seconds, tokens)
        if self.settled or self._single.calls < self.samples or self._batched.calls < self.samples:
            return
        ratio = self._batched.per_token / max(1e-12, self._single.per_token)
        self._last_ratio = ratio
        current = self.limit or self._largest_round
        if ratio <= 1.0 + self.margin:
            self._settle(current, ratio, pays=True)
        elif current // 2 > 1:
            log.debug("lockstep: batches up to %d cost %.2fx one request alone; trying %d", current, ratio, current // 2)
            self.limit, self._batched = current // 2, _Cost()
        else:
            self._settle(1, ratio, pays=False)

    def _settle(self, limit: int, ratio: float, pays: bool) -> None:
        self.settled = True
        if pays and self.limit is None:
            return  # the whole round in one call pays: nothing changed, nothing to say
        self.limit = limit
        how = "one question at a time" if limit == 1 else f"batches of at most {limit}"
        note = (f"lockstep: batched calls cost {ratio:.2f}x the seconds per generated token of one request "
                f"alone on this backend; answering {how} from here on")
        self.notes.append(note)
        if self.on_note:
            self.on_note(note)

    def generate(self, call: Generate, requests: Sequence[ChatRequest]) -> list[Completion]:
        """Answer one round through ``call`` (a backend's ``generate``), in order, timing each call."""
        out: list[Completion] = []
        start = 0
        for size in self.plan(len(requests)):
            chunk = requests[start : start + size]
            start += size
            t0 = self.clock()
            got = call(chunk)
            self.observe(len(chunk), self.clock() - t0, got)
            out += got
        return out

    def summary(self) -> dict[str, Any]:
        """What was measured and decided, for a bench or a log."""
        return {
            "limit": self.limit,
            "settled": self.settled,
            "ratio": None if self._last_ratio is None else round(self._last_ratio, 3),
            "single_s_per_token": round(self._single.per_token, 4),
            "batched_s_per_token": round(self._batched.per_token, 4),
            "single_calls": self._single.calls,
            "batched_calls": self._batched.calls,
        }


def run_turns(backend: Any, first: Mapping[K, ChatRequest], next_request: Callable[[K, Completion], ChatRequest | None],
              pacer: Pacer | None = None) -> None:
    """Answer many questions' turns until each one's ``next_request`` returns None.

    ``first`` holds each question's first request; ``next_request(question, completion)``
    takes a reply (the caller applies and saves it) and returns that question's next
    request, or None when it is done. A backend with ``generate_refilled`` (the in-process
    transformers backend) keeps its batch full: a question's next turn joins the running
    batch as soon as its reply is done. Any other backend answers in rounds, one per
    ``generate`` call through ``pacer``, which falls back to smaller calls where batching
    is slower.
    """
    keys = list(first)
    refilled = getattr(backend, "generate_refilled", None)
    if callable(refilled):
        refilled([first[k] for k in keys], lambda slot, completion: next_request(keys[slot], completion))
        return
    pacer = pacer or Pacer()
    pending = dict(first)
    while pending:
        asked = list(pending)
        completions = pacer.generate(backend.generate, [pending[k] for k in asked])
        pending = {}
        for key, completion in zip(asked, completions):
            request = next_request(key, completion)
            if request is not None:
                pending[key] = request


def _even(n: int, cap: int) -> list[int]:
    """``n`` split into the fewest calls of at most ``cap``, sizes as even as possible."""
    if n <= 0:
        return []
    calls = -(-n // max(1, cap))
    base, extra = divmod(n, calls)
    return [base + 1] * extra + [base] * (calls - extra)
