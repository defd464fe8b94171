"""Constrained decoding with xgrammar, shared by the in-process backends.

One GBNF text is compiled once per tokenizer and cached. A mask object follows each
sequence's tokens with an ``xgrammar.GrammarMatcher`` and sets every token the grammar
forbids to ``-inf`` before sampling: ``BatchGrammarMask`` for a transformers batch (one
grammar, or none, per row), ``SequenceGrammarMask`` for llama-cpp-python's numpy
``logits_processor`` hook. vLLM runs the same library itself, so one grammar serves all.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from ..errors import BackendError
from ._models import passive_openmp

log = logging.getLogger(__name__)

XGRAMMAR_INSTALL = "pip install --no-deps xgrammar && pip install apache-tvm-ffi pydantic typing-extensions"
"""xgrammar without triton (about 1 GB, GPU only); torch and transformers come with the extra."""
_warned = False


def import_xgrammar() -> ModuleType | None:
    """xgrammar, or None with a one-time warning that replies will not be constrained."""
    global _warned
    passive_openmp()  # xgrammar imports torch
    try:
        import xgrammar
    except ImportError as exc:
        if not _warned:
            _warned = True
            log.warning(
                "xgrammar is not importable (%s): replies are not constrained to the action "
                "format; install it with `%s`",
                exc,
                XGRAMMAR_INSTALL,
            )
        return None
    return xgrammar


def _clean(exc: Exception) -> str:
    """xgrammar's message without its ``[time] file.cc:line:`` prefix."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"^\[[\d:]+\]\s+\S+:\d+:\s*", "", text)


class GrammarCache:
    """Compiles GBNF grammars for one tokenizer, each text once."""

    def __init__(self, xgr: ModuleType, tokenizer_info: Any, threads: int = 2) -> None:
        self.xgr = xgr
        self.tokenizer_info = tokenizer_info
        self._compiler = xgr.GrammarCompiler(tokenizer_info, max_threads=threads)
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def vocab_size(self) -> int:
        return int(self.tokenizer_info.vocab_size)

    def compile(self, gbnf: str) -> Any:
        """The compiled grammar; a grammar xgrammar rejects raises ``BackendError``."""
        with self._lock:
            compiled = self._compiled.get(gbnf)
            if compiled is None:
                try:
                    compiled = self._compiler.compile_grammar(gbnf)
                except RuntimeError as exc:
                    raise BackendError(f"the reply grammar does not compile: {_clean(exc)}") from exc
                self._compiled[gbnf] = compiled
            return compiled


class BatchGrammarMask:
    """A transformers logits processor: one grammar (or None: unconstrained) per batch row.

    ``xgrammar.contrib.hf.LogitsProcessor`` takes one grammar per row too, but every row
    must have one and a refused token fails an assert; here a row the matcher cannot
    follow is released and reported in ``failed`` instead. Use one per generate call.
    """

    def __init__(self, cache: GrammarCache, grammars: Sequence[Any | None]) -> None:
        xgr = cache.xgr
        self._xgr = xgr
        self.matchers = [xgr.GrammarMatcher(g) if g is not None else None for g in grammars]
        self.failed = [False] * len(grammars)
        self._bitmask = xgr.allocate_token_bitmask(len(grammars), cache.vocab_size)
        self._vocab_size = cache.vocab_size
        self._started = False
        self.seconds = 0.0
        """Time spent masking, for the bench."""

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        start = time.perf_counter()
        if self._started:
            last = input_ids[:, -1].tolist()
            for row, matcher in enumerate(self.matchers):
                if (
                    matcher is not None
                    and not matcher.is_terminated()
                    and not matcher.accept_token(last[row])
                ):
                    self.failed[row] = True
                    self.matchers[row] = None
        self._started = True
        active = []
        for row, matcher in enumerate(self.matchers):
            if matcher is not None and not matcher.is_terminated():
                matcher.fill_next_token_bitmask(self._bitmask, row)
                active.append(row)
        if active:
            if scores.device.type in ("cpu", "cuda"):
                self._xgr.apply_token_bitmask_inplace(
                    scores, self._bitmask.to(scores.device), vocab_size=self._vocab_size, indices=active
                )
            else:  # xgrammar's kernels cover CPU and CUDA only
                cpu = scores.to("cpu")
                self._xgr.apply_token_bitmask_inplace(
                    cpu, self._bitmask, vocab_size=self._vocab_size, indices=active
                )
                scores = cpu.to(scores.device)
        self.seconds += time.perf_counter() - start
        return scores


class SequenceGrammarMask:
    """A llama-cpp-python ``logits_processor`` for one sequence (numpy in, numpy out).

    llama-cpp-python hands the custom sampler a strided view of its candidate array, so
    the mask is applied with numpy and a new array is returned (xgrammar's in-place
    kernel expects contiguous memory and silently misses on that view).
    """

    def __init__(self, cache: GrammarCache, grammar: Any) -> None:
        import numpy

        self._np = numpy
        self.matcher = cache.xgr.GrammarMatcher(grammar)
        self.failed = False
        self._bitmask = cache.xgr.allocate_token_bitmask(1, cache.vocab_size)
        self._seen: int | None = None
        self.calls = 0
        self.seconds = 0.0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        start = time.perf_counter()
        np = self._np
        if self._seen is not None and not self.failed:
            for token in input_ids[self._seen :]:
                if not self.matcher.accept_token(int(token)):
                    self.failed = True
                    break
        self._seen = len(input_ids)
        if self.failed or self.matcher.is_terminated():
            return scores
        self.matcher.fill_next_token_bitmask(self._bitmask)
        bits = np.unpackbits(self._bitmask.numpy().view(np.uint8), bitorder="little")
        allowed = bits[: len(scores)].astype(bool)
        out = np.where(allowed, scores, np.float32(-np.inf)).astype(np.float32, copy=False)
        self.calls += 1
        self.seconds += time.perf_counter() - start
        return out
