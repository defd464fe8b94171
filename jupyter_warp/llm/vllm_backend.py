"""vLLM in process: one ``LLM.chat`` call per batch, grammars through vLLM's structured outputs.

Deliberately thin: vLLM batches, schedules and constrains (with xgrammar) by itself.
It needs a GPU and was not run in this project's CI; the code follows vLLM's documented
offline API and detects by feature which structured-output parameter the installed
version has (``StructuredOutputsParams`` from 0.10.2, ``GuidedDecodingParams`` before).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..errors import BackendError, MissingExtraError
from ..records import ChatRequest, Completion
from .base import Backend

INSTALL = "pip install 'jupyter-warp[vllm]'"


class VLLMBackend(Backend):
    """``vllm.LLM(model=..., **llm_kwargs)`` in this process.

    Parameters
    ----------
    model:
        A Hugging Face model id or folder (e.g. ``openbmb/AgentCPM-Report``).
    llm_kwargs:
        Passed to ``vllm.LLM`` (``tensor_parallel_size``, ``max_model_len``, ``dtype``...).
    """

    name = "vllm"
    supports_grammar = True

    def __init__(self, model: str, **llm_kwargs: Any) -> None:
        try:
            import vllm
            from vllm import SamplingParams
        except ImportError as exc:
            raise MissingExtraError("vllm", INSTALL) from exc
        self._vllm = vllm
        self._sampling_params = SamplingParams
        self._structured = self._structured_kind()
        self.name = f"vllm:{model}"
        self.llm = vllm.LLM(model=model, **llm_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        config = getattr(self.llm, "model_config", None) or self.llm.llm_engine.model_config
        self.context_window = int(config.max_model_len)

    @classmethod
    def from_spec(cls, target: str | None, **options: Any) -> VLLMBackend:
        """``vllm:MODEL``."""
        if not target:
            raise BackendError("the vllm backend needs a model: vllm:MODEL_ID_OR_PATH")
        return cls(target, **options)

    @staticmethod
    def _structured_kind() -> tuple[str, Any]:
        """(SamplingParams keyword, params class) for grammars in this vLLM version."""
        import vllm.sampling_params as sp

        if hasattr(sp, "StructuredOutputsParams"):
            return "structured_outputs", sp.StructuredOutputsParams
        if hasattr(sp, "GuidedDecodingParams"):
            return "guided_decoding", sp.GuidedDecodingParams
        raise BackendError("this vLLM has neither StructuredOutputsParams nor GuidedDecodingParams")

    def _params(self, request: ChatRequest) -> Any:
        kwargs: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": max(0.0, request.temperature),
            "top_p": request.top_p if request.temperature > 0 else 1.0,
            "seed": request.seed,
        }
        if request.grammar:
            keyword, params = self._structured
            kwargs[keyword] = params(grammar=request.grammar)
        return self._sampling_params(**kwargs)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        if not requests:
            return []
        started = time.perf_counter()
        try:
            outputs = self.llm.chat(
                [r.messages() for r in requests],
                [self._params(r) for r in requests],
                use_tqdm=False,
            )
        except ValueError as exc:
            raise BackendError(f"{self.name} rejected the batch: {exc}") from exc
        latency = time.perf_counter() - started
        completions = []
        for output in outputs:
            choice = output.outputs[0]
            completions.append(
                Completion(
                    text=choice.text,
                    prompt_tokens=len(output.prompt_token_ids or []),
                    completion_tokens=len(choice.token_ids),
                    latency_s=latency,
                    finish_reason="length" if choice.finish_reason == "length" else "stop",
                )
            )
        return completions

    def close(self) -> None:
        self.__dict__.pop("llm", None)
