"""vLLM in process: one ``LLM.chat`` call per batch, grammars through vLLM's structured outputs.

Deliberately thin: vLLM batches, schedules and constrains (with xgrammar) by itself. It
needs a GPU, which this project's CI has not, so every call into vLLM sits in
``VLLMEngine`` and the tests run it against a stand-in module written to vLLM's offline
API as read in its 0.10.2, 0.11.0, 0.12.0 and 0.33.0 releases: ``LLM(model=..., **engine
arguments)``, ``LLM.chat(conversations, sampling_params, use_tqdm=, lora_request=,
chat_template_kwargs=)``, and a grammar as ``SamplingParams(structured_outputs=
StructuredOutputsParams(grammar=...))`` from 0.11.0, ``guided_decoding=GuidedDecodingParams(
grammar=...)`` before (gone in 0.12.0), picked by which class the installed vLLM has.

vLLM rejects a whole batch when one prompt is longer than ``max_model_len`` (a
``ValueError``, ``VLLMValidationError`` in current releases), so each prompt is measured
with the model's chat template first and one too long becomes that request's error
Completion; the rest are answered.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from ..errors import BackendError, ConfigError, MissingExtraError
from ..records import ChatRequest, Completion
from ._servers import CONTEXT_ERROR
from .base import Backend, positive_option

INSTALL = "pip install 'jupyter-warp[vllm]'"
OWN_OPTIONS = ("context_window", "enable_thinking", "extra_body", "lora")
ENGINE_EXAMPLES = (
    "tensor_parallel_size", "pipeline_parallel_size", "max_model_len", "gpu_memory_utilization",
    "enable_lora", "max_lora_rank",
)  # fmt: skip


class Reply(NamedTuple):
    """One conversation's answer from ``VLLMEngine.chat``, free of vLLM's types."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class VLLMEngine:
    """The only code that calls vLLM: load, window, token counts, sampling parameters, chat."""

    def __init__(self, model: str, engine_args: dict[str, Any]) -> None:
        try:
            import vllm
            from vllm import sampling_params
        except ImportError as exc:
            raise MissingExtraError("vllm", INSTALL) from exc
        self._vllm = vllm
        known = self.engine_arg_names()
        unknown = sorted(set(engine_args) - known) if known is not None else []
        if unknown:
            raise ConfigError(
                f"backend 'vllm' has no option {', '.join(map(repr, unknown))}; its options: "
                f"{', '.join(OWN_OPTIONS)}, and any vLLM engine argument ({', '.join(ENGINE_EXAMPLES)}...)"
            )
        if hasattr(sampling_params, "StructuredOutputsParams"):
            self.structured = ("structured_outputs", sampling_params.StructuredOutputsParams)
        elif hasattr(sampling_params, "GuidedDecodingParams"):
            self.structured = ("guided_decoding", sampling_params.GuidedDecodingParams)
        else:
            raise BackendError("this vLLM has neither StructuredOutputsParams nor GuidedDecodingParams")
        self.llm = vllm.LLM(model=model, **engine_args)
        self.tokenizer = self.llm.get_tokenizer()

    @staticmethod
    def engine_arg_names() -> set[str] | None:
        """Every ``vllm.LLM`` engine argument: the fields of ``EngineArgs``."""
        try:
            from vllm.engine.arg_utils import EngineArgs
        except ImportError:
            return None
        return {field.name for field in dataclasses.fields(EngineArgs)}

    @property
    def max_model_len(self) -> int:
        """The context window vLLM's engine settled on."""
        config = getattr(self.llm, "model_config", None) or self.llm.llm_engine.model_config
        return int(config.max_model_len)

    def count(self, text: str) -> int:
        """Tokens of ``text`` alone, no special tokens."""
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def prompt_tokens(self, messages: list[dict[str, str]], template_kwargs: dict[str, Any]) -> int | None:
        """Tokens of the prompt vLLM will build (the chat template applied); None if unknown."""
        import jinja2

        try:
            rendered = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, **template_kwargs
            )
        except (ValueError, TypeError, KeyError, jinja2.TemplateError):
            return None
        return self.count(rendered) if isinstance(rendered, str) else None

    def sampling_params(self, request: ChatRequest, extra: dict[str, Any]) -> Any:
        """vLLM's ``SamplingParams`` for a request, its grammar as structured outputs."""
        kwargs: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": max(0.0, request.temperature),
            "top_p": request.top_p if request.temperature > 0 else 1.0,
            "seed": request.seed,
            **extra,
        }
        if request.grammar:
            keyword, params = self.structured
            kwargs[keyword] = params(grammar=request.grammar)
        return self._vllm.SamplingParams(**kwargs)

    @staticmethod
    def lora_request(name: str, path: str) -> Any:
        """A ``LoRARequest`` for the adapter at ``path``."""
        from vllm.lora.request import LoRARequest

        return LoRARequest(name, 1, path)

    def chat(
        self, conversations: list[list[dict[str, str]]], params: list[Any], template_kwargs: dict[str, Any], lora: Any
    ) -> list[Reply]:
        """One batched ``LLM.chat`` call: one ``Reply`` per conversation, in order."""
        outputs = self.llm.chat(
            conversations, params, use_tqdm=False, lora_request=lora, chat_template_kwargs=template_kwargs
        )
        # vLLM before 0.11 keeps the requests of a batch it rejected half-way and returns them
        # with the next call's; ours are the newest, so they come last.
        replies = []
        for output in list(outputs)[-len(conversations) :]:
            choice = output.outputs[0]
            replies.append(
                Reply(
                    choice.text,
                    len(output.prompt_token_ids or []),
                    len(choice.token_ids),
                    "length" if choice.finish_reason == "length" else "stop",
                )
            )
        return replies

    def close(self) -> None:
        """Drop the engine so that its GPU memory can be freed."""
        self.__dict__.pop("llm", None)


class VLLMBackend(Backend):
    """``vllm.LLM(model=..., **engine_args)`` in this process.

    Parameters
    ----------
    model:
        A Hugging Face model id or folder (e.g. ``openbmb/AgentCPM-Report``).
    context_window:
        The window prompts are fitted to; also vLLM's ``max_model_len`` unless that is given
        (without either, vLLM reserves memory for the model's full context length).
    enable_thinking:
        Passed to the chat template (``chat_template_kwargs``); off by default.
    extra_body:
        More ``SamplingParams`` fields for every request (``top_k``, ``repetition_penalty``...).
    lora:
        A LoRA adapter folder, or ``NAME=FOLDER``, applied to every request (turns on
        ``enable_lora``).
    engine_args:
        Any vLLM engine argument: ``tensor_parallel_size``, ``pipeline_parallel_size``,
        ``max_model_len``, ``gpu_memory_utilization``, ``enable_lora``, ``dtype``...
    """

    name = "vllm"
    supports_grammar = True

    def __init__(
        self,
        model: str,
        *,
        context_window: int | None = None,
        enable_thinking: bool = False,
        extra_body: dict[str, Any] | None = None,
        lora: str | None = None,
        **engine_args: Any,
    ) -> None:
        if extra_body is not None and not isinstance(extra_body, dict):
            raise ConfigError(f"backend option extra_body must be a JSON object, got {extra_body!r}")
        window = None if context_window is None else positive_option("context_window", context_window, int)
        if window is not None:
            engine_args.setdefault("max_model_len", window)
        self._lora: tuple[str, str] | None = None
        if lora:
            name, sep, path = str(lora).partition("=")
            self._lora = (name, path) if sep else ("adapter", name)
            engine_args.setdefault("enable_lora", True)
        self.engine = VLLMEngine(model, engine_args)
        self.name = f"vllm:{model}"
        self.context_window = min(self.engine.max_model_len, window or self.engine.max_model_len)
        self.template_kwargs = {"enable_thinking": bool(enable_thinking)}
        self.extra_body = dict(extra_body or {})
        self._lora_request = self.engine.lora_request(*self._lora) if self._lora else None

    @classmethod
    def from_spec(cls, target: str | None, **options: Any) -> VLLMBackend:
        """``vllm:MODEL``."""
        if not target:
            raise BackendError("the vllm backend needs a model: vllm:MODEL_ID_OR_PATH")
        return cls(target, **options)

    def count_tokens(self, text: str) -> int:
        """Tokens by the model's own tokenizer."""
        return self.engine.count(text)

    def _too_long(self, detail: str) -> Completion:
        return Completion(
            text="",
            finish_reason="error",
            error=f"the prompt does not fit {self.name}'s context window of {self.context_window} tokens ({detail})",
        )

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """One ``LLM.chat`` call for every prompt that fits; an error Completion for each that does not."""
        out: dict[int, Completion] = {}
        fitting = []
        for index, request in enumerate(requests):
            tokens = self.engine.prompt_tokens(request.messages(), self.template_kwargs)
            if tokens is not None and tokens >= self.context_window:
                out[index] = self._too_long(f"it takes {tokens}")
            else:
                fitting.append((index, request))
        if fitting:
            out.update(self._run(fitting))
        return [out[index] for index in range(len(requests))]

    def _run(self, items: list[tuple[int, ChatRequest]]) -> dict[int, Completion]:
        started = time.perf_counter()
        try:
            replies = self.engine.chat(
                [request.messages() for _, request in items],
                [self.engine.sampling_params(request, self.extra_body) for _, request in items],
                self.template_kwargs,
                self._lora_request,
            )
        except Exception as exc:  # vLLM's own error classes are not ValueErrors in current releases
            message = " ".join(str(exc).split())
            if not CONTEXT_ERROR.search(message):
                if isinstance(exc, ValueError) or type(exc).__module__.startswith("vllm"):
                    raise BackendError(f"{self.name} rejected the batch: {message}") from exc
                raise
            if len(items) == 1:
                return {items[0][0]: self._too_long(message)}
            out: dict[int, Completion] = {}
            for item in items:
                out.update(self._run([item]))
            return out
        latency = time.perf_counter() - started
        return {
            index: Completion(
                text=reply.text,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                latency_s=latency,
                finish_reason=reply.finish_reason,
            )
            for (index, _), reply in zip(items, replies, strict=True)
        }

    def close(self) -> None:
        """Release the engine."""
        self.engine.close()
