"""The OpenAI-compatible backend against a real llama-cpp-python server on loopback."""

from __future__ import annotations

import threading
import time

import pytest

from jupyter_warp.errors import BackendUnavailableError
from jupyter_warp.llm import get_backend
from jupyter_warp.llm.openai_backend import OpenAIBackend, grammar_body
from jupyter_warp.records import ChatRequest
from scripted import parses_search as parses
from servers import LlamaServer, free_port, llama_server_fixture, require_llama_server

SEARCH_GRAMMAR = r"""root ::= "<thought>" thought "</thought>\n<action>" action "</action>"
thought ::= [^<\n]{1,300}
action ::= "{\"name\": \"search\", \"keywords\": [" kw (", " kw){0,4} "]}"
kw ::= "\"" [a-zA-Z0-9 ]{1,40} "\""
"""
server = llama_server_fixture(scope="module")




@pytest.fixture
def backend(server: LlamaServer):
    b = get_backend(f"openai:{server.url}", max_tries=3, backoff=0.05, concurrency=4)
    yield b
    b.close()


def test_unreachable_url_is_one_line_unavailable_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    backend = OpenAIBackend(url, "m", max_tries=3, backoff=0.01, grammar_field="none")
    started = time.perf_counter()
    with pytest.raises(BackendUnavailableError) as err:
        backend.generate([ChatRequest("hi", max_tokens=2)])
    assert time.perf_counter() - started < 5
    message = str(err.value)
    assert "\n" not in message
    assert f"model server at {url} did not answer after 3 tries" in message
    assert "start it or check the URL" in message and "resumed" in message


def test_grammar_body_fields() -> None:
    assert grammar_body("grammar", "g") == {"grammar": "g"}
    assert grammar_body("structured_outputs", "g") == {"structured_outputs": {"grammar": "g"}}
    assert grammar_body("guided_grammar", "g") == {"guided_grammar": "g"}
    assert grammar_body("none", "g") == {}


@pytest.mark.server
def test_model_and_grammar_field_come_from_the_server(backend: OpenAIBackend, server: LlamaServer) -> None:
    assert backend.model == str(server.model)  # the first (only) one /models lists
    assert backend.models()[0]["owned_by"] == "me"  # llama-cpp-python's server
    assert backend.grammar_field == "grammar" and backend.supports_grammar
    assert backend.context_window == 8192  # not reported by this server: the default


@pytest.mark.server
def test_unknown_servers_are_probed_for_their_grammar_field(
    backend: OpenAIBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend, "_card", lambda: {"owned_by": "somebody"})
    assert backend.server_kind == "unknown"  # no /api/version either: not ollama
    assert backend._detect_grammar_field() == "grammar"  # the model said exactly the probe text
    none = get_backend(f"openai:{backend.base_url}", grammar_field="none")
    assert not none.supports_grammar


@pytest.mark.server
def test_a_batch_runs_concurrently_and_keeps_order(backend: OpenAIBackend) -> None:
    prompts = ["Hi.", "Hello there, friend.", "Good morning to you and to all of your friends.", "Hey"]
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    complete = backend._complete

    def counting(*args, **kwargs):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            return complete(*args, **kwargs)
        finally:
            with lock:
                in_flight -= 1

    backend._complete = counting  # type: ignore[method-assign]
    out = backend.generate([ChatRequest(p, max_tokens=3, temperature=0) for p in prompts])
    assert peak > 1
    assert [c.prompt_tokens for c in out] == [
        backend.count_tokens(p) + out[0].prompt_tokens - backend.count_tokens(prompts[0]) for p in prompts
    ]  # the chat template adds the same overhead to each: answers are in request order
    for c in out:
        assert c.completion_tokens == 3 and c.finish_reason == "length" and c.latency_s > 0


@pytest.mark.server
def test_the_grammar_is_enforced(backend: OpenAIBackend) -> None:
    prompt = "Which search keywords would find how solar panels degrade? Keep the thought short."
    out = backend.generate([ChatRequest(prompt, grammar=SEARCH_GRAMMAR, max_tokens=200, seed=7)])[0]
    assert out.finish_reason == "stop", out
    assert parses(out.text), out.text
    assert out.prompt_tokens > 10 and out.completion_tokens > 10


@pytest.mark.server
def test_count_tokens_asks_the_server_once_per_text(backend: OpenAIBackend) -> None:
    assert backend.count_tokens("hello world") == 2
    assert backend._tokenize_route == "/extras/tokenize/count"  # llama-cpp-python's route
    backend._tokenize_route = "/nowhere"  # a cached text does not ask again
    assert backend.count_tokens("hello world") == 2


@pytest.mark.server
def test_a_prompt_too_long_fails_alone_with_a_clear_error(backend: OpenAIBackend) -> None:
    short, long = backend.generate([ChatRequest("Hi.", max_tokens=2), ChatRequest("hi " * 9000, max_tokens=2)])
    assert short.finish_reason == "length" and short.completion_tokens == 2
    assert long.finish_reason == "error" and "context window" in long.error and "\n" not in long.error


@pytest.mark.server
def test_a_killed_server_is_unavailable_then_works_after_restart() -> None:
    require_llama_server()
    with LlamaServer() as own:
        backend = OpenAIBackend(own.url, max_tries=3, backoff=0.05, concurrency=4)
        assert backend.generate([ChatRequest("Hi.", max_tokens=2)])[0].completion_tokens == 2
        own.kill()
        started = time.perf_counter()
        with pytest.raises(BackendUnavailableError, match="did not answer after 3 tries"):
            backend.generate([ChatRequest("Hi.", max_tokens=2)] * 4)
        assert time.perf_counter() - started < 5  # 3 tries, 0.05 s then 0.1 s apart
        own.restart()
        out = backend.generate([ChatRequest("Hi.", max_tokens=2)] * 2)
        assert [c.completion_tokens for c in out] == [2, 2]
        backend.close()
