"""Constrained decoding with xgrammar, shared by the in-process backends.

One GBNF text is compiled once per tokenizer and cached by its text; xgrammar's compiler
also caches the rules it has seen, so a grammar that differs from an earlier one only in
a small rule (the write grammar's citation keys) recompiles in tens of milliseconds, not
the 1 to 1.5 s of its first compile (measured on 2 cores, xgrammar 0.2.8). The transformers
backend masks each row with its own ``xgrammar.GrammarMatcher`` (``_decoding``);
``SequenceGrammarMask`` does it for llama-cpp-python's numpy ``logits_processor`` hook.
vLLM runs the same library itself, so one grammar serves all.
"""

from __future__ import annotations

import logging
import re
import threading
import time
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
