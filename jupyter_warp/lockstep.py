"""Whether lockstep batching pays on this backend and machine, measured while it runs.

A lockstep round asks every running question's next turn in one batched call. That is
faster only where the backend answers a batch in less time than the same requests one
after another: a batching server or an in-process model usually does, a small CPU with a
server that cannot batch may not. ``Pacer`` times the calls it makes. Until it knows, it
sends one request of a round alone and the rest together (the same kind of work, since
the questions of a round are mostly in the same state); once both sides have been
measured ``samples`` times it compares what the batches took with what the same requests
would have taken one at a time (a cost per prompt token and per generated token, fitted
from the single calls), and keeps the batch, tries half of it, or answers one request at
a time, and says which once, through ``on_note``. A request goes alone again every few
rounds, so the verdict follows the work. ``run_turns`` is what a batch driver calls: rounds through a ``Pacer``, or, on
a backend that can refill its batch, no rounds at all. No I/O; the clock is a parameter
so that tests can script the costs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .records import ChatRequest, Completion

log = logging.getLogger(__name__)

Generate = Callable[[Sequence[ChatRequest]], list[Completion]]
K = TypeVar("K", bound=Hashable)


@dataclass
class Pacer:
    """Splits each lockstep round into backend calls, by what the earlier calls cost.

    What one request costs alone is fitted from the calls that had one request
    (``seconds = a * prompt_tokens + b * completion_tokens``), so a batch is judged against
    what the same requests would have cost one at a time, not against the average reply.

    Parameters
    ----------
    max_batch:
        Most requests in one call; None: a whole round.
    samples:
        Calls of each kind (one request alone, several together) measured before deciding.
    margin:
        A batch is given up only when it costs more than ``1 + margin`` times the same
        requests one at a time (timings on a shared machine are noisy).
    reprobe_every:
        Every this many rounds one request goes alone again, so that a verdict follows
        the work as it changes (longer prompts later in a run); None: never.
    clock:
        Seconds, monotonic; ``time.perf_counter`` unless a test scripts it.
    on_note:
        Told, in one line, when the pacer settles on smaller batches or none.
    """

    max_batch: int | None = None
    samples: int = 2
    margin: float = 0.0
    reprobe_every: int | None = 8
    clock: Callable[[], float] = time.perf_counter
    on_note: Callable[[str], None] | None = None
    limit: int | None = field(init=False, default=None)
    """The batch size in force; None: no limit beyond ``max_batch``."""
    settled: bool = field(init=False, default=False)
    """Whether a verdict has been reached (it may still change after a later probe)."""
    _singles: list[tuple[int, int, float]] = field(init=False, default_factory=list)
    _batches: list[tuple[float, list[tuple[int, int]]]] = field(init=False, default_factory=list)
    _rounds: int = field(init=False, default=0)
    _largest_round: int = field(init=False, default=0)
    _last_ratio: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.limit = self.max_batch

    def plan(self, n: int) -> list[list[int]]:
        """The calls, in order, that answer a round of ``n`` requests, as lists of their indexes."""
        if n <= 0:
            return []
        self._rounds += 1
        self._largest_round = max(self._largest_round, n)
        cap = n if self.limit is None else max(1, min(self.limit, n))
        due = len(self._singles) < self.samples or bool(self.reprobe_every and self._rounds % self.reprobe_every == 0)
        if cap > 1 and due and (n >= 3 or len(self._singles) <= len(self._batches)):
            alone = (self._rounds - 1) % n  # a different question each time: different prompt and reply sizes
            rest = [i for i in range(n) if i != alone]
            return [[alone]] + (_split(rest, cap) if n >= 3 else [[i] for i in rest])
        return _split(list(range(n)), cap)

    def observe(self, size: int, seconds: float, completions: Sequence[Completion]) -> None:
        """Record one call of ``size`` requests that took ``seconds``; decide when both kinds are known."""
        sizes = [(c.prompt_tokens, max(1, c.completion_tokens)) for c in completions]
        if size == 1:
            self._singles.append((*sizes[0], seconds))
        else:
            self._batches.append((seconds, sizes))
        if size == 1 or not self._singles or len(self._singles) < self.samples or len(self._batches) < self.samples:
            return  # nothing to compare a batch with yet
        ratio = self._ratio()
        self._last_ratio = ratio
        current = self.limit or self._largest_round
        if ratio <= 1.0 + self.margin:
            if not self.settled and self.limit is not None and self.limit != self.max_batch:
                self._say(self.limit, ratio)
            self.settled = True
        elif current // 2 > 1:
            log.debug("lockstep: batches up to %d cost %.2fx one request at a time; trying %d",
                      current, ratio, current // 2)
            self.limit, self._batches, self.settled = current // 2, [], False
        else:
            self.limit, self.settled = 1, True
            self._say(1, ratio)

    def _ratio(self) -> float:
        """Seconds the batched calls took over what their requests would have taken alone."""
        a, b = _fit(self._singles)
        alone = sum(a * p + b * c for _, sizes in self._batches for p, c in sizes)
        return sum(seconds for seconds, _ in self._batches) / max(1e-12, alone)

    def _say(self, limit: int, ratio: float) -> None:
        how = "one question at a time" if limit == 1 else f"batches of at most {limit}"
        note = (f"lockstep: batched calls took {ratio:.2f}x the time of the same requests one at a time on "
                f"this backend; answering {how} from here on")
        if self.on_note:
            self.on_note(note)

    def generate(self, call: Generate, requests: Sequence[ChatRequest]) -> list[Completion]:
        """Answer one round through ``call`` (a backend's ``generate``), in order, timing each call."""
        out: list[Completion | None] = [None] * len(requests)
        for group in self.plan(len(requests)):
            t0 = self.clock()
            got = call([requests[i] for i in group])
            self.observe(len(group), self.clock() - t0, got)
            for i, completion in zip(group, got, strict=True):
                out[i] = completion
        return [c for c in out if c is not None]

    def summary(self) -> dict[str, Any]:
        """What was measured and decided, for a bench or a log."""
        a, b = _fit(self._singles) if self._singles else (0.0, 0.0)
        return {
            "limit": self.limit,
            "settled": self.settled,
            "ratio": None if self._last_ratio is None else round(self._last_ratio, 3),
            "s_per_prompt_token": round(a, 5),
            "s_per_completion_token": round(b, 5),
            "single_calls": len(self._singles),
            "batched_calls": len(self._batches),
        }


def _fit(singles: Sequence[tuple[int, int, float]]) -> tuple[float, float]:
    """``(a, b)`` with ``seconds ~ a * prompt_tokens + b * completion_tokens``, both >= 0, by
    least squares; where the calls cannot tell the two apart, the one that fits best alone."""
    spp = sum(p * p for p, _, _ in singles)
    scc = sum(c * c for _, c, _ in singles)
    spc = sum(p * c for p, c, _ in singles)
    stp = sum(t * p for p, _, t in singles)
    stc = sum(t * c for _, c, t in singles)
    det = spp * scc - spc * spc
    if det > 1e-6 * spp * scc:
        a, b = (stp * scc - stc * spc) / det, (stc * spp - stp * spc) / det
        if a >= 0 and b >= 0:
            return a, b
    options = ([(0.0, stc / scc)] if scc else []) + ([(stp / spp, 0.0)] if spp else [])
    if not options:
        return 0.0, 0.0
    return min(options, key=lambda ab: sum((t - ab[0] * p - ab[1] * c) ** 2 for p, c, t in singles))


def run_turns(backend: Any, first: Mapping[K, ChatRequest], next_request: Callable[[K, Completion], ChatRequest | None],
              pacer: Pacer | None = None, generate: Generate | None = None) -> None:
    """Answer many questions' turns until each one's ``next_request`` returns None.

    ``first`` holds each question's first request; ``next_request(question, completion)``
    takes a reply (the caller applies and saves it) and returns that question's next
    request, or None when it is done. A backend with ``generate_refilled`` (the in-process
    transformers backend) keeps its batch full: a question's next turn joins the running
    batch as soon as its reply is done. Any other backend answers in rounds, one per
    ``generate`` call through ``pacer``, which falls back to smaller calls where batching
    is slower; ``generate`` answers a round in place of ``backend.generate``. ``next_request``
    is called inside the backend call: a failure of one question should be caught there
    (return None), since an exception ends every question's turns.
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
        completions = pacer.generate(generate or backend.generate, [pending[k] for k in asked])
        pending = {}
        for key, completion in zip(asked, completions, strict=True):
            request = next_request(key, completion)
            if request is not None:
                pending[key] = request


def _split(items: list[int], cap: int) -> list[list[int]]:
    """``items`` in order, in the fewest groups of at most ``cap``, sizes as even as possible."""
    if not items:
        return []
    calls = -(-len(items) // max(1, cap))
    base, extra = divmod(len(items), calls)
    out, start = [], 0
    for k in range(calls):
        size = base + (k < extra)
        out.append(items[start : start + size])
        start += size
    return out
