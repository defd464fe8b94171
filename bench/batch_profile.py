"""Phase timing for ``bench/batch.py``: a recording backend and timers around the machine and the driver."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from jupyter_warp.llm.base import Backend
from jupyter_warp.lockstep import Pacer
from jupyter_warp.machine.stepper import Machine
from jupyter_warp.records import ChatRequest, Completion
from jupyter_warp.runs import Run


class RecordingBackend(Backend):
    """Passes calls through (through the pacer, if given) and sums the phases of each call."""

    def __init__(self, inner: Backend, phases: dict[str, float], pacer: Pacer | None = None) -> None:
        self.inner, self.phases, self.pacer = inner, phases, pacer
        self.name = inner.name
        self.context_window = inner.context_window
        self.supports_grammar = inner.supports_grammar
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if callable(getattr(inner, "generate_refilled", None)):
            self.generate_refilled = self._refilled

    def _refilled(self, requests: Sequence[ChatRequest],
                  refill: Callable[[int, Completion], ChatRequest | None]) -> None:
        """The whole run is one call; the caller's work inside ``refill`` is not backend time."""
        t0 = time.perf_counter()
        self.inner.generate_refilled(requests, refill)  # type: ignore[attr-defined]
        profile = dict(self.inner.last_profile)  # type: ignore[attr-defined]
        wall = time.perf_counter() - t0 - profile.get("refill_s", 0.0)
        self.calls.append({"n": int(profile.get("requests", len(requests))), "wall_s": wall, "latency_s": []})
        self.phases["backend_s"] += wall
        for key, value in profile.items():
            self.phases[key] += value

    def _call(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        t0 = time.perf_counter()
        out = self.inner.generate(requests)
        wall = time.perf_counter() - t0
        with self._lock:
            self.calls.append({"n": len(requests), "wall_s": wall, "latency_s": [c.latency_s for c in out]})
            self.phases["backend_s"] += wall
            self.phases["row_wait_s"] += sum(max(0.0, wall - c.latency_s) for c in out) / max(1, len(out))
            for key, value in (getattr(self.inner, "last_profile", None) or {}).items():
                self.phases[key] += value
        return out

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        return self.pacer.generate(self._call, requests) if self.pacer else self._call(requests)

    @property
    def model(self) -> str:
        """The served model's id, so that the engine picks its profile as for the bare backend."""
        return str(getattr(self.inner, "model", self.inner.name))

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        self.inner.close()

    def overlap(self) -> float:
        """Sum of request latencies over the sum of call wall times: 1 when requests run one
        at a time, up to the batch size when they all run together."""
        wall = sum(c["wall_s"] for c in self.calls)
        return sum(sum(c["latency_s"]) for c in self.calls) / wall if wall else 0.0


@contextlib.contextmanager
def timed_policy(phases: dict[str, float]) -> Iterator[None]:
    """Time prompt building (the machine's ``prepare``) and the engine (applying a reply and
    checkpointing it: the driver's ``complete``) in place."""
    patched = [(Machine, "prepare", "prompt_s"), (Run, "complete", "engine_s")]
    originals = [(cls, name, getattr(cls, name)) for cls, name, _ in patched]

    def timed(fn: Callable[..., Any], key: str) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[key] += time.perf_counter() - t0
        return wrapper

    for (cls, name, key), (_, _, fn) in zip(patched, originals, strict=True):
        setattr(cls, name, timed(fn, key))
    try:
        yield
    finally:
        for cls, name, fn in originals:
            setattr(cls, name, fn)


class RoundsOnly:
    """A backend seen without ``generate_refilled``, so that ``run_turns`` answers in rounds."""

    def __init__(self, inner: Backend) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "generate_refilled":
            raise AttributeError(name)
        return getattr(self._inner, name)
