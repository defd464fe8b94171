"""The OpenAI-compatible backend against loopback stand-ins of real servers as they behave.

vLLM of each version (the grammar field it reads, no ``/version``, a ``/version`` that
hangs, ``/tokenize`` refusing long text, LoRA cards), ollama (its window, no tokenizer,
no grammar, silent truncation) and a server that ignores grammars: the fields sent, the
counts used, and that a prompt fitted by the engine's fitter never exceeds the window.
"""

from __future__ import annotations

import logging
import time

import pytest

from jupyter_warp.budget import fit_prompt
from jupyter_warp.llm import get_backend
from jupyter_warp.llm._servers import PROBE_GRAMMAR, PROBE_TEXT
from jupyter_warp.llm.base import estimate_tokens
from jupyter_warp.llm.openai_backend import OpenAIBackend
from jupyter_warp.prompts.variables import render_passages
from jupyter_warp.records import ChatRequest, Passage
from standins import TOKENIZE_FIELDS, StandIn, count

SEARCH_GRAMMAR = r'root ::= "<thought>" [^<]{1,40} "</thought><action>" [a-z ]{1,20} "</action>"'
GRAMMAR_FIELDS = ("grammar", "structured_outputs", "guided_grammar")
SENTENCES = [
    "Solar panels lose about half a percent of their output each year, faster in hot climates.",
    "Encapsulant browning, cell cracks and corrosion of contacts are the common causes (see Jordan, 2016).",
    "Field studies in Arizona measured 0.8% a year; in Germany, 0.4% over twenty years of service.",
    "Potential-induced degradation can remove 30% of a string's power within months: it is reversible.",
]


def backend_for(server: StandIn, spec_model: str = "", **options) -> OpenAIBackend:
    spec = f"openai:{server.url}" + (f"#{spec_model}" if spec_model else "")
    return get_backend(spec, max_tries=2, backoff=0.01, **options)


def chat_bodies(server: StandIn) -> list[dict]:
    return [c.body for c in server.paths("/v1/chat/completions")]


def sent_fields(body: dict) -> set[str]:
    return set(body) & set(GRAMMAR_FIELDS)


def passages(n: int) -> list[Passage]:
    return [
        Passage(f"doc{i}#0", " ".join(SENTENCES[(i + k) % 4] for k in range(12)), f"papers/solar-{i}.md", page=i)
        for i in range(n)
    ]


def fitted_prompt(backend: OpenAIBackend, max_tokens: int) -> tuple[str, dict[str, int]]:
    """The engine's fitter on a prompt far over the window, with this backend's window and counts."""

    found = passages(40)

    def render(_level: int, n: int, chars: int) -> str:
        kept = found[:n]
        return "Write the next section on solar panel degradation.\n\n" + render_passages(kept, range(1, n + 1), chars)

    fit = fit_prompt(render, len(found), backend.count_tokens, backend.context_window, max_tokens, passage_chars=1200)
    return fit.prompt, fit.cut


# -- the grammar field ---------------------------------------------------------------


@pytest.mark.parametrize(
    "version, field",
    [("0.10.2", "guided_grammar"), ("0.11.0", "structured_outputs"), ("0.12.0", "structured_outputs"),
     ("0.33.0", "structured_outputs")],
)
def test_vllm_gets_the_grammar_field_of_its_version(version: str, field: str) -> None:
    with StandIn("vllm", version=version) as server:
        backend = backend_for(server)
        out = backend.generate([ChatRequest("Search.", grammar=SEARCH_GRAMMAR, max_tokens=50)])
        assert out[0].text == "constrained"  # the server enforced it
        (body,) = chat_bodies(server)  # the version decided: no probe
        assert sent_fields(body) == {field}
        assert body["chat_template_kwargs"] == {"enable_thinking": False}
        assert body["max_completion_tokens"] == 50 and "max_tokens" not in body
        assert server.ignored == []  # no field this vLLM would log as ignored
        assert len(server.paths("/version")) == 1


@pytest.mark.parametrize("version, field", [("0.10.2", "guided_grammar"), ("0.12.0", "structured_outputs")])
def test_vllm_without_a_version_route_is_probed(version: str, field: str) -> None:
    with StandIn("vllm", version=version, version_route=False) as server:
        backend = backend_for(server)
        assert backend.grammar_field == field and backend.supports_grammar
        probes = chat_bodies(server)
        assert all(PROBE_GRAMMAR in str(body) and PROBE_TEXT not in str(body["messages"]) for body in probes)
        assert [sent_fields(b) for b in probes][-1] == {field}
        backend.generate([ChatRequest("Search.", grammar=SEARCH_GRAMMAR, max_tokens=50)])
        assert sent_fields(chat_bodies(server)[-1]) == {field}
        assert len(server.paths("/version")) == 1


def test_a_version_route_that_hangs_is_asked_once_then_probed() -> None:
    with StandIn("vllm", version="0.12.0", version_delay=3.0) as server:
        backend = backend_for(server)
        backend.probe_timeout = 0.3
        started = time.perf_counter()
        assert backend.grammar_field == "structured_outputs"
        assert time.perf_counter() - started < 2.5
        assert len(server.paths("/version")) == 1  # not retried


@pytest.mark.parametrize("reply", ["ok", "ECHO"])
def test_a_server_that_ignores_grammars_is_reported_once(reply: str, caplog: pytest.LogCaptureFixture) -> None:
    """Neither a model that says "ok" (the old probe's answer) nor one repeating its prompt passes."""
    with StandIn("parrot", free_reply=reply) as server, caplog.at_level(logging.WARNING):
        backend = backend_for(server)
        assert not backend.supports_grammar
        probes = len(chat_bodies(server))
        assert probes == len(GRAMMAR_FIELDS)
        for _ in range(2):
            backend.generate([ChatRequest("Search.", grammar=SEARCH_GRAMMAR, max_tokens=20)])
        assert [sent_fields(b) for b in chat_bodies(server)[probes:]] == [set(), set()]
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "ignored a grammar" in warnings[0] and "grammar_field" in warnings[0]


def test_grammar_field_option_forces_the_field() -> None:
    with StandIn("vllm", version="0.11.0") as server:
        backend = backend_for(server, grammar_field="guided_grammar")
        assert backend.generate([ChatRequest("x", grammar=SEARCH_GRAMMAR, max_tokens=9)])[0].text == "constrained"
        assert sent_fields(chat_bodies(server)[0]) == {"guided_grammar"} and not server.paths("/version")


# -- token counts and the window -----------------------------------------------------------


def test_a_text_tokenize_refuses_is_estimated_alone() -> None:
    with StandIn("vllm", window=512, tokenize_limit=True) as server:
        backend = backend_for(server)
        long = " ".join(SENTENCES) * 40
        assert backend.count_tokens(long) == estimate_tokens(long)  # refused (400): estimated
        short = SENTENCES[1]
        assert backend.count_tokens(short) == count(short)  # the next text is the server's count
        assert backend.count_tokens(long) == estimate_tokens(long)  # cached, not asked again
        bodies = [c.body for c in server.paths("/tokenize")]
        assert len(bodies) == 2 and all(set(b) <= TOKENIZE_FIELDS for b in bodies)
        assert bodies[0]["add_special_tokens"] is False and bodies[0]["model"] == "org/model"
        assert server.ignored == []


def test_a_missing_tokenize_route_is_remembered() -> None:
    with StandIn("parrot") as server:
        backend = backend_for(server)
        assert backend.count_tokens("hello world") == estimate_tokens("hello world")
        assert backend.count_tokens("other words") == estimate_tokens("other words")
        assert len(server.paths("/tokenize")) == 1 and len(server.paths("/extras/tokenize/count")) == 1


def test_estimates_count_cjk_as_a_token_a_character() -> None:
    assert estimate_tokens("研究报告" * 50) == 200
    assert estimate_tokens("abcd" * 50) == 50
    assert estimate_tokens("太阳能 panels") == 3 + 2


def test_a_fitted_prompt_fits_vllm_whose_tokenize_refuses_long_text() -> None:
    with StandIn("vllm", window=1024, tokenize_limit=True) as server:
        backend = backend_for(server)
        prompt, cut = fitted_prompt(backend, max_tokens=200)
        assert cut["passages"] > 30 and "over_budget_tokens" not in cut
        out = backend.generate([ChatRequest(prompt, max_tokens=200)])[0]
        assert out.finish_reason == "stop", out.error
        assert server.prompt_tokens[-1] + 200 <= 1024


def test_a_lora_adapter_has_its_base_models_window() -> None:
    with StandIn("vllm", window=4096, lora="report-lora") as server:
        backend = backend_for(server, "report-lora")
        assert backend.context_window == 4096
        backend.generate([ChatRequest("hi", max_tokens=2)])
        assert chat_bodies(server)[0]["model"] == "report-lora"


def test_an_over_long_prompt_is_that_requests_error_not_the_batchs() -> None:
    with StandIn("vllm", window=256) as server:
        backend = backend_for(server)
        out = backend.generate([ChatRequest("short", max_tokens=8), ChatRequest("word " * 400, max_tokens=8)])
        assert out[0].finish_reason == "stop" and out[0].error is None
        assert out[1].finish_reason == "error" and "(256 tokens)" in out[1].error
        assert "maximum context length is 256" in out[1].error and "\n" not in out[1].error


# -- ollama ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "standin, options, window",
    [
        ({"window": 3072}, {}, 3072),  # /api/ps once loaded (OLLAMA_CONTEXT_LENGTH raised)
        ({"ps_route": False, "num_ctx": 4096}, {}, 4096),  # num_ctx from the Modelfile
        ({"ps_route": False}, {}, 2048),  # nothing reported: the small default
        ({"window": 3072}, {"context_window": 6000}, 6000),  # the option wins, unasked
    ],
)
def test_ollama_window(standin: dict, options: dict, window: int, caplog: pytest.LogCaptureFixture) -> None:
    with StandIn("ollama", model="llama3.2:latest", **standin) as server, caplog.at_level(logging.WARNING):
        backend = backend_for(server, **options)
        assert backend.context_window == window
        warned = [r.getMessage() for r in caplog.records if "OLLAMA_CONTEXT_LENGTH" in r.getMessage()]
        assert len(warned) == (1 if window == 2048 else 0)
        asked = [c.path for c in server.calls if c.path.startswith("/api/") and c.path != "/api/version"]
        if options:
            assert asked == []  # the option is not second-guessed


def test_ollama_gets_no_grammar_no_tokenize_calls_and_a_fitted_prompt(caplog: pytest.LogCaptureFixture) -> None:
    with StandIn("ollama", window=2048) as server, caplog.at_level(logging.WARNING):
        backend = backend_for(server)
        assert backend.server_kind == "ollama" and not backend.supports_grammar
        prompt, cut = fitted_prompt(backend, max_tokens=300)
        assert cut["passages"] > 30
        out = backend.generate([ChatRequest(prompt, grammar=SEARCH_GRAMMAR, max_tokens=300)])[0]
        assert out.finish_reason == "stop"
        (body,) = chat_bodies(server)
        assert sent_fields(body) == set() and "chat_template_kwargs" not in body and body["max_tokens"] == 300
        assert server.prompt_tokens[-1] + 300 <= 2048  # nothing for ollama to cut
        assert not [c for c in server.calls if "tokenize" in c.path]
        assert sum("enforces no grammar" in r.getMessage() for r in caplog.records) == 1


# -- options ---------------------------------------------------------------------------


def test_options_reach_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    with StandIn("vllm") as server:
        backend_for(server).generate([ChatRequest("a", max_tokens=2)])
        backend = backend_for(
            server,
            api_key="sk-given",
            enable_thinking=True,
            timeout=12,
            extra_body={"top_k": 20, "chat_template_kwargs": {"custom": 1}},
        )
        backend.generate([ChatRequest("b", max_tokens=2)])
        first, second = server.paths("/v1/chat/completions")
        assert first.headers["Authorization"] == "Bearer sk-from-env"
        assert second.headers["Authorization"] == "Bearer sk-given"
        assert second.body["top_k"] == 20
        assert second.body["chat_template_kwargs"] == {"enable_thinking": True, "custom": 1}
        assert backend.http.client.timeout.read == 12
        assert server.ignored == []


def test_no_api_key_sends_no_authorization(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with StandIn("vllm") as server:
        backend_for(server).generate([ChatRequest("a", max_tokens=2)])
        assert "Authorization" not in server.paths("/v1/chat/completions")[0].headers

