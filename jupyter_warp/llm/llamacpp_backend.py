"""llama-cpp-python in process: a GGUF model on the CPU, 4 to 6 times faster than transformers.

Requests run one after another (llama-cpp-python decodes one sequence at a time). A
grammar is enforced by an xgrammar mask in ``logits_processor`` when xgrammar is
installed (the same grammar engine the transformers backend and vLLM use), else by
llama.cpp's own GBNF sampler (``LlamaGrammar``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import BackendError, ConfigError, MissingExtraError
from ..records import ChatRequest, Completion
from ._grammar import XGRAMMAR_INSTALL, GrammarCache, SequenceGrammarMask, import_xgrammar
from ._models import passive_openmp, smollm2_gguf
from .base import Backend

log = logging.getLogger(__name__)

INSTALL = "pip install 'jupyter-warp[llamacpp]'"
GRAMMAR_ENGINES = ("auto", "xgrammar", "llama")


class LlamaCppBackend(Backend):
    """A GGUF model through llama-cpp-python.

    Parameters
    ----------
    model_path:
        A ``.gguf`` file, or ``smollm2`` for the embedded model.
    n_ctx:
        Context window in tokens (default 8192, SmolLM2's).
    flash_attn, n_threads:
        Passed to ``llama_cpp.Llama``; ``llama_kwargs`` passes anything else.
    grammar_engine:
        ``auto`` (xgrammar if importable, else llama.cpp's GBNF), ``xgrammar`` or ``llama``.
    """

    name = "llamacpp"

    def __init__(
        self,
        model_path: str = "smollm2",
        *,
        n_ctx: int = 8192,
        flash_attn: bool = True,
        n_threads: int | None = None,
        grammar_engine: str = "auto",
        enable_thinking: bool = False,
        **llama_kwargs: Any,
    ) -> None:
        passive_openmp()
        try:
            import llama_cpp
        except ImportError as exc:
            raise MissingExtraError("llama-cpp-python", INSTALL) from exc
        if grammar_engine not in GRAMMAR_ENGINES:
            raise ConfigError(
                f"grammar_engine must be one of {', '.join(GRAMMAR_ENGINES)}, got {grammar_engine!r}"
            )
        self._llama_cpp: Any = llama_cpp
        path = smollm2_gguf() if model_path == "smollm2" else Path(model_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"no GGUF file at {path}: give llamacpp:PATH/TO/MODEL.gguf")
        started = time.perf_counter()
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                flash_attn=flash_attn,
                n_threads=n_threads,
                verbose=False,
                **llama_kwargs,
            )
        except ValueError as exc:
            raise BackendError(f"llama.cpp cannot load {path}: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        self._thinking_switch(bool(enable_thinking))
        self.name = f"llamacpp:{path.name}"
        self.context_window = int(self.llm.n_ctx())
        self._grammars: GrammarCache | None = None
        self._xgr = import_xgrammar() if grammar_engine in ("auto", "xgrammar") else None
        if grammar_engine == "xgrammar" and self._xgr is None:
            raise MissingExtraError("xgrammar", XGRAMMAR_INSTALL)
        self.grammar_engine = "xgrammar" if self._xgr is not None else "llama"
        """``xgrammar`` or ``llama``; may be switched after construction (the bench compares them)."""
        self.supports_grammar = True
        self.mask_seconds = 0.0
        """Time spent in the xgrammar mask, summed over all requests (for the bench)."""

    def _thinking_switch(self, enable_thinking: bool) -> None:
        """Render the GGUF's own chat template with ``enable_thinking`` (Qwen3-style
        templates read it); llama-cpp-python passes no template arguments itself."""
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template or self.llm.chat_format != "chat_template.default" or self.llm.chat_handler is not None:
            return
        from llama_cpp import llama_chat_format

        eos, bos = self.llm.token_eos(), self.llm.token_bos()
        formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=self.llm.detokenize([eos], special=True).decode("utf-8", "replace") if eos >= 0 else "",
            bos_token=self.llm.detokenize([bos], special=True).decode("utf-8", "replace") if bos >= 0 else "",
            stop_token_ids=[eos],
        )
        self.llm.chat_handler = llama_chat_format.chat_formatter_to_chat_completion_handler(
            functools.partial(formatter, enable_thinking=enable_thinking)
        )

    @classmethod
    def from_spec(cls, target: str | None, **options: Any) -> LlamaCppBackend:
        """``llamacpp:GGUF_PATH`` or ``llamacpp:smollm2`` (also the default)."""
        return cls(target or "smollm2", **options)

    def count_tokens(self, text: str) -> int:
        """Tokens by the GGUF's own tokenizer, no BOS added."""
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _grammar_cache(self) -> GrammarCache:
        """xgrammar's view of the GGUF vocabulary: each token's bytes, control tokens empty."""
        if self._grammars is None:
            assert self._xgr is not None
            vocab = [self.llm.detokenize([i], special=False) for i in range(self.llm.n_vocab())]
            info = self._xgr.TokenizerInfo(
                vocab,
                self._xgr.VocabType.RAW,
                vocab_size=self.llm.n_vocab(),
                stop_token_ids=[self.llm.token_eos()],
            )
            self._grammars = GrammarCache(self._xgr, info)
        return self._grammars

    def _constraint(self, grammar: str) -> tuple[dict[str, Any], SequenceGrammarMask | None]:
        """Keyword arguments that enforce ``grammar``, and the mask if xgrammar does it."""
        if self.grammar_engine == "xgrammar":
            mask = SequenceGrammarMask(self._grammar_cache(), self._grammar_cache().compile(grammar))
            return {"logits_processor": self._llama_cpp.LogitsProcessorList([mask])}, mask
        try:
            return {"grammar": self._llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)}, None
        except ValueError as exc:
            raise BackendError(f"llama.cpp rejects the reply grammar: {exc}") from exc

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """Answer the requests one after another (llama-cpp-python decodes one sequence)."""
        return [self._one(index, request) for index, request in enumerate(requests)]

    def _one(self, index: int, request: ChatRequest) -> Completion:
        kwargs: dict[str, Any] = {
            "messages": request.messages(),
            "max_tokens": request.max_tokens,
            "temperature": max(0.0, request.temperature),
            "top_p": request.top_p,
            "top_k": 0,
            "min_p": 0.0,
            "repeat_penalty": 1.0,
            "seed": request.seed,
        }
        mask = None
        if request.grammar:
            constraint, mask = self._constraint(request.grammar)
            kwargs.update(constraint)
        started = time.perf_counter()
        try:
            reply: dict[str, Any] = self.llm.create_chat_completion(**kwargs)  # type: ignore[assignment]
        except ValueError as exc:
            if "exceed context window" in str(exc):  # that request fails, not the batch
                return Completion(
                    text="",
                    latency_s=time.perf_counter() - started,
                    finish_reason="error",
                    error=f"the prompt does not fit {self.name}'s context window of "
                    f"{self.context_window} tokens ({' '.join(str(exc).split())})",
                )
            raise BackendError(f"llama.cpp failed on prompt {index}: {exc}") from exc
        latency = time.perf_counter() - started
        choice = reply["choices"][0]
        usage = reply.get("usage") or {}
        finish = choice.get("finish_reason") or "stop"
        error = None
        if mask is not None:
            self.mask_seconds += mask.seconds
            if mask.failed:
                finish, error = "error", "the grammar matcher refused a sampled token"
        return Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_s=latency,
            finish_reason=finish if finish in ("stop", "length", "error") else "stop",
            error=error,
        )

    def close(self) -> None:
        """Free the model; closing twice is harmless."""
        llm = self.__dict__.pop("llm", None)
        if llm is not None:
            llm.close()
