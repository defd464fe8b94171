"""vLLM in process, run against a stand-in ``vllm`` written to vLLM's offline API (no GPU here)."""

from __future__ import annotations

import pytest

import fake_vllm
from jupyter_warp.errors import ConfigError
from jupyter_warp.llm import get_backend
from jupyter_warp.records import ChatRequest

GRAMMAR = 'root ::= "x"'


def last_llm(vllm):
    return vllm.LLM.instances[-1]


@pytest.mark.parametrize(
    "version, keyword, params",
    [
        ("0.10.2", "guided_decoding", "GuidedDecodingParams"),
        ("0.11.0", "structured_outputs", "StructuredOutputsParams"),
        ("0.12.0", "structured_outputs", "StructuredOutputsParams"),
        ("0.33.0", "structured_outputs", "StructuredOutputsParams"),
    ],
)
def test_the_grammar_goes_where_this_vllm_reads_it(monkeypatch, version, keyword, params) -> None:
    vllm = fake_vllm.install(monkeypatch, version)
    backend = get_backend("vllm:org/model")
    out = backend.generate([ChatRequest("plan", grammar=GRAMMAR, max_tokens=5), ChatRequest("free", max_tokens=5)])
    assert [c.text for c in out] == ["constrained", "free text"]
    sent = last_llm(vllm).calls[0]["params"]
    assert type(sent[0].kwargs[keyword]).__name__ == params and sent[0].kwargs[keyword].grammar == GRAMMAR
    assert keyword not in sent[1].kwargs
    assert backend.supports_grammar and backend.context_window == fake_vllm.MODEL_MAX_LEN


def test_engine_arguments_and_options_reach_vllm(monkeypatch) -> None:
    vllm = fake_vllm.install(monkeypatch)
    backend = get_backend(
        "vllm:org/model",
        tensor_parallel_size=4,
        pipeline_parallel_size=2,
        gpu_memory_utilization=0.8,
        distributed_executor_backend="ray",
        context_window=8192,
        enable_thinking=True,
        extra_body={"top_k": 20, "repetition_penalty": 1.05},
        lora="report=/adapters/report",
    )
    llm = last_llm(vllm)
    assert llm.model == "org/model"
    assert llm.engine_args == {
        "tensor_parallel_size": 4,
        "pipeline_parallel_size": 2,
        "gpu_memory_utilization": 0.8,
        "distributed_executor_backend": "ray",
        "max_model_len": 8192,  # context_window sizes the engine too
        "enable_lora": True,
    }
    assert backend.context_window == 8192
    backend.generate([ChatRequest("hello there", max_tokens=3, temperature=0.7, seed=1)])
    call = llm.calls[0]
    assert call["chat_template_kwargs"] == {"enable_thinking": True} and call["use_tqdm"] is False
    assert call["lora"].lora_name == "report" and call["lora"].lora_path == "/adapters/report"
    assert call["params"][0].kwargs == {
        "max_tokens": 3, "temperature": 0.7, "top_p": 0.8, "seed": 1, "top_k": 20, "repetition_penalty": 1.05,
    }  # fmt: skip


def test_thinking_is_off_by_default_and_max_model_len_wins(monkeypatch) -> None:
    vllm = fake_vllm.install(monkeypatch)
    backend = get_backend("vllm:org/model", max_model_len=16384, context_window=4096)
    assert last_llm(vllm).engine_args == {"max_model_len": 16384}
    assert backend.context_window == 4096  # prompts are fitted to the smaller of the two
    backend.generate([ChatRequest("hi", max_tokens=2)])
    assert last_llm(vllm).calls[0]["chat_template_kwargs"] == {"enable_thinking": False}


def test_an_unknown_option_is_one_config_error_listing_the_options(monkeypatch) -> None:
    fake_vllm.install(monkeypatch)
    with pytest.raises(ConfigError) as err:
        get_backend("vllm:org/model", tensor_paralel_size=2, grammar_field="none")
    message = str(err.value)
    assert "'grammar_field', 'tensor_paralel_size'" in message
    for name in ("context_window", "enable_thinking", "extra_body", "lora", "tensor_parallel_size"):
        assert name in message
    assert "\n" not in message


@pytest.mark.parametrize("version", ["0.10.2", "0.33.0"])
def test_an_over_long_prompt_fails_alone(monkeypatch, version) -> None:
    vllm = fake_vllm.install(monkeypatch, version)
    backend = get_backend("vllm:org/model", context_window=64)
    requests = [ChatRequest("short one", max_tokens=4), ChatRequest("word " * 100, max_tokens=4),
                ChatRequest("short two", max_tokens=4)]
    out = backend.generate(requests)
    assert [c.finish_reason for c in out] == ["stop", "error", "stop"]
    assert out[1].error.startswith("the prompt does not fit vllm:org/model's context window of 64 tokens")
    assert "\n" not in out[1].error
    assert len(last_llm(vllm).calls) == 1 and len(last_llm(vllm).calls[0]["messages"]) == 2  # measured first


@pytest.mark.parametrize("version", ["0.10.2", "0.33.0"])
def test_a_length_error_from_vllm_itself_fails_only_that_prompt(monkeypatch, version) -> None:
    """Where the prompt could not be measured first, vLLM's own rejection of the batch is split up."""
    vllm = fake_vllm.install(monkeypatch, version)
    backend = get_backend("vllm:org/model", context_window=64)
    monkeypatch.setattr(backend.engine, "prompt_tokens", lambda *a: None)
    requests = [ChatRequest("a", max_tokens=4), ChatRequest("b c", max_tokens=4),
                ChatRequest("word " * 100, max_tokens=4), ChatRequest("d e f", max_tokens=4)]
    out = backend.generate(requests)
    assert [c.finish_reason for c in out] == ["stop", "stop", "error", "stop"]
    assert [c.prompt_tokens for c in out] == [4, 5, 0, 6]  # each answer is its own prompt's
    assert "longer than the maximum model length of 64" in out[2].error
    assert last_llm(vllm).queued == []
