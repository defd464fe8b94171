"""A stand-in ``vllm`` package with vLLM's offline API, to run the in-process backend without a GPU.

Written from vLLM's releases (0.10.2 and 0.33.0 read side by side), strict where vLLM is:

- ``LLM(model=..., **engine_args)`` accepts only ``EngineArgs`` fields; ``max_model_len``
  defaults to the model's (``MODEL_MAX_LEN``); ``llm_engine.model_config.max_model_len``
  (and ``LLM.model_config`` from 0.11).
- ``LLM.chat(messages, sampling_params=None, use_tqdm=True, lora_request=None,
  chat_template_kwargs=None, ...)`` renders each conversation with the tokenizer's chat
  template and rejects the batch when one prompt is longer than ``max_model_len``, with
  vLLM's message: a ``ValueError`` in 0.10 (after queueing the prompts before it, which
  the next call then also returns, as 0.10's ``LLM`` does) or ``VLLMValidationError``
  (not a ``ValueError``) from 0.12.
- ``SamplingParams(**kwargs)`` accepts only its fields; grammars through
  ``structured_outputs=StructuredOutputsParams(grammar=)`` (0.11 on) or
  ``guided_decoding=GuidedDecodingParams(grammar=)`` (before 0.12).
- ``vllm.lora.request.LoRARequest(lora_name, lora_int_id, lora_path)``.

The "model" answers ``constrained`` under a grammar and ``free text`` otherwise; tokens
are whitespace-separated words.
"""

from __future__ import annotations

import dataclasses
import sys
import types
from typing import Any, ClassVar

import pytest

MODEL_MAX_LEN = 32768
TEMPLATE = "<|user|> {content} <|end|> <|assistant|>"


@dataclasses.dataclass
class EngineArgs:
    model: str = ""
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    enable_lora: bool = False
    max_lora_rank: int = 16
    dtype: str = "auto"
    distributed_executor_backend: str | None = None
    enforce_eager: bool = False


class Tokenizer:
    def __init__(self) -> None:
        self.template_kwargs: list[dict[str, Any]] = []

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return list(range(len(text.split()) + (1 if add_special_tokens else 0)))

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool = True,
                            add_generation_prompt: bool = False, **kwargs: Any) -> Any:
        self.template_kwargs.append(kwargs)
        text = " ".join(TEMPLATE.format(content=m["content"]) for m in messages)
        return self.encode(text, add_special_tokens=False) if tokenize else text


class VLLMValidationError(Exception):
    """vLLM 0.12 on: the length error is not a ValueError."""


VLLMValidationError.__module__ = "vllm.exceptions"


def build(version: str = "0.33.0") -> types.ModuleType:
    """A fresh ``vllm`` package tree behaving like ``version``; ``LLM.instances`` keeps every LLM."""
    minor = tuple(int(x) for x in version.split(".")[:2])
    vllm = types.ModuleType("vllm")
    vllm.__version__ = version
    sampling = types.ModuleType("vllm.sampling_params")
    grammar_keywords = set()

    if minor >= (0, 11):
        @dataclasses.dataclass
        class StructuredOutputsParams:
            grammar: str | None = None
            json: Any = None

        sampling.StructuredOutputsParams = StructuredOutputsParams
        grammar_keywords.add("structured_outputs")
    if minor < (0, 12):
        @dataclasses.dataclass
        class GuidedDecodingParams:
            grammar: str | None = None
            json: Any = None

        sampling.GuidedDecodingParams = GuidedDecodingParams
        grammar_keywords.add("guided_decoding")

    fields = {"max_tokens", "temperature", "top_p", "top_k", "seed", "repetition_penalty", "stop"} | grammar_keywords

    class SamplingParams:
        def __init__(self, **kwargs: Any) -> None:
            unknown = set(kwargs) - fields
            if unknown:
                raise TypeError(f"SamplingParams got unexpected keyword arguments {sorted(unknown)}")
            self.kwargs = kwargs

    @dataclasses.dataclass
    class LoRARequest:
        lora_name: str
        lora_int_id: int
        lora_path: str

    class Output:
        def __init__(self, prompt_ids: list[int], text: str, max_tokens: int) -> None:
            self.prompt_token_ids = prompt_ids
            tokens = text.split()[:max_tokens]
            finish = "length" if len(tokens) < len(text.split()) else "stop"
            self.outputs = [types.SimpleNamespace(text=" ".join(tokens), token_ids=list(range(len(tokens))),
                                                  finish_reason=finish)]

    class LLM:
        instances: ClassVar[list[Any]] = []

        def __init__(self, model: str, **engine_args: Any) -> None:
            allowed = {f.name for f in dataclasses.fields(EngineArgs)}
            unknown = set(engine_args) - allowed
            if unknown:
                raise TypeError(f"EngineArgs.__init__() got an unexpected keyword argument {min(unknown)!r}")
            self.model = model
            self.engine_args = engine_args
            config = types.SimpleNamespace(max_model_len=engine_args.get("max_model_len") or MODEL_MAX_LEN)
            self.llm_engine = types.SimpleNamespace(model_config=config)
            if minor >= (0, 11):
                self.model_config = config
            self.tokenizer = Tokenizer()
            self.calls: list[dict[str, Any]] = []
            self.queued: list[Output] = []
            LLM.instances.append(self)

        def get_tokenizer(self) -> Tokenizer:
            return self.tokenizer

        def chat(self, messages: list[list[dict[str, str]]], sampling_params: Any = None, use_tqdm: bool = True,
                 lora_request: Any = None, chat_template: str | None = None,
                 add_generation_prompt: bool = True, chat_template_kwargs: dict[str, Any] | None = None) -> list[Any]:
            self.calls.append({"messages": messages, "params": sampling_params, "lora": lora_request,
                               "chat_template_kwargs": chat_template_kwargs, "use_tqdm": use_tqdm})
            window = self.llm_engine.model_config.max_model_len
            for conversation, params in zip(messages, sampling_params, strict=True):
                text = self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True,
                                                          **(chat_template_kwargs or {}))
                ids = self.tokenizer.encode(text, add_special_tokens=False)
                if len(ids) > window:
                    message = (f"The decoder prompt (length {len(ids)}) is longer than the maximum model "
                               f"length of {window}. Make sure that `max_model_len` is no smaller than the "
                               "number of text tokens.")
                    if minor >= (0, 12):
                        self.queued.clear()  # current vLLM aborts what it queued
                        raise VLLMValidationError(message)
                    raise ValueError(message)  # 0.10 leaves the prompts before this one queued
                grammar = params.kwargs.get("structured_outputs") or params.kwargs.get("guided_decoding")
                reply = "constrained" if grammar is not None else "free text"
                self.queued.append(Output(ids, reply, params.kwargs["max_tokens"]))
            done, self.queued = self.queued, []
            return done

    vllm.LLM = LLM
    vllm.SamplingParams = SamplingParams
    vllm.sampling_params = sampling
    engine = types.ModuleType("vllm.engine")
    arg_utils = types.ModuleType("vllm.engine.arg_utils")
    arg_utils.EngineArgs = EngineArgs
    engine.arg_utils = arg_utils
    lora = types.ModuleType("vllm.lora")
    lora_request = types.ModuleType("vllm.lora.request")
    lora_request.LoRARequest = LoRARequest
    lora.request = lora_request
    vllm.engine, vllm.lora = engine, lora
    vllm.modules = {  # type: ignore[attr-defined]
        "vllm": vllm, "vllm.sampling_params": sampling, "vllm.engine": engine,
        "vllm.engine.arg_utils": arg_utils, "vllm.lora": lora, "vllm.lora.request": lora_request,
    }
    return vllm


def install(monkeypatch: pytest.MonkeyPatch, version: str = "0.33.0") -> types.ModuleType:
    """Put a stand-in ``vllm`` of ``version`` in ``sys.modules`` for one test."""
    vllm = build(version)
    for name, module in vllm.modules.items():  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, name, module)
    return vllm
