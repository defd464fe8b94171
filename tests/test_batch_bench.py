"""llama.cpp's ``llama-server`` (parallel slots, continuous batching) under ``run_lockstep``:
every round's requests reach the server together and are decoded in one batch.

The server tests need the ``llama-server`` binary: cached from an earlier build, or built
here (minutes, once) unless ``JUPYTER_WARP_BUILD_LLAMA_SERVER=0``, in which case they skip.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence

import pytest

from jupyter_warp.batch import Question, run_lockstep
from jupyter_warp.config import WarpConfig
from jupyter_warp.llm.base import Backend
from jupyter_warp.lockstep import Pacer
from jupyter_warp.records import ChatRequest, Completion
from jupyter_warp.runs import Run
from jupyter_warp.tools import llama_build as lb
from jupyter_warp.tools import llama_server as ls
from scripted import MemorySearcher


# The binary lookup, without a server.
def test_cache_is_keyed_by_version(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_WARP_CACHE", str(tmp_path))
    monkeypatch.delenv(lb.BINARY_ENV, raising=False)
    assert lb.cached_binary("0.3.36") == tmp_path / "bin" / "llama-server-0.3.36"
    assert lb.cached_binary("0.3.36") != lb.cached_binary("0.3.37")
    assert lb.find_llama_server("0.3.36") is None
    fake = lb.cached_binary("0.3.36")
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert lb.find_llama_server("0.3.36") == fake
    assert lb.ensure_llama_server("0.3.36", build=False) == fake


def test_missing_binary_with_building_disabled_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_WARP_CACHE", str(tmp_path))
    monkeypatch.setenv(lb.BUILD_ENV, "0")
    monkeypatch.delenv(lb.BINARY_ENV, raising=False)
    assert not lb.build_enabled()
    with pytest.raises(lb.LlamaServerMissingError, match="llama_server build"):
        lb.ensure_llama_server("0.3.36")


def test_explicit_binary_must_exist(tmp_path, monkeypatch):
    monkeypatch.setenv(lb.BINARY_ENV, str(tmp_path / "nope"))
    with pytest.raises(lb.LlamaServerMissingError, match="not an executable"):
        lb.find_llama_server()


# A real server.
class Recording(Backend):
    """Counts the batched calls ``run_lockstep`` makes and their sizes."""

    def __init__(self, inner: Backend) -> None:
        self.inner, self.name = inner, inner.name
        self.context_window, self.supports_grammar = inner.context_window, inner.supports_grammar
        self.sizes: list[int] = []

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        self.sizes.append(len(requests))
        return self.inner.generate(requests)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def binary():
    try:
        return ls.ensure_llama_server()
    except ls.LlamaServerMissingError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def server(binary, tmp_path_factory):
    # One thread: on a small machine shared with other work, llama.cpp's spinning worker
    # threads slow decoding down by an order of magnitude (measured: 43 tok/s at -t 1, 1 at -t 2).
    with ls.llama_server(binary=binary, parallel=2, ctx_per_slot=4096, threads=1,
                         log_path=tmp_path_factory.mktemp("llama-server") / "server.log") as s:
        yield s


@pytest.mark.server
@pytest.mark.timeout(1800)  # the first run may build llama-server (minutes); later runs take seconds
def test_lockstep_rounds_are_decoded_together(server, tmp_path):
    from jupyter_warp.llm import get_backend

    questions = [Question("gen", "How do generators and the yield statement work in Python?"),
                 Question("with", "What does the with statement do in Python, and why use it?")]
    config = WarpConfig(model=server.spec, max_steps=2, max_extends=0, first_k=2, k=2, passage_max_chars=200,
                        thought_max_chars=60, min_sections=3, max_sections=3, max_new_tokens=400, seed=0)
    before = server.metrics()
    with Recording(get_backend(server.spec)) as backend:
        assert backend.supports_grammar, "the openai backend should send the GBNF grammar to a llama.cpp server"
        rows = run_lockstep(questions, config, tmp_path, backend=backend,
                            searcher=MemorySearcher(per_query=1, text_len=8),
                            pacer=Pacer(samples=0, reprobe_every=None))
    assert [r.status for r in rows] == ["done", "done"], [r.error for r in rows]
    assert backend.sizes == [2, 2]  # two rounds (search, init_plan), both questions in each
    busy = server.busy_slots_per_decode(since=before)
    assert busy > 1.05, (f"requests were decoded one at a time (busy slots per decode {busy:.2f}); "
                         f"log:\n{server.log_tail()}")
    for q in questions:
        steps = Run.resume(tmp_path / q.id / "run").steps
        assert [s.state for s in steps] == ["search", "init_plan"]
        assert steps[0].error is None, steps[0].reply  # the grammar holds the small model to the format
        assert steps[0].completion_tokens > 0 and steps[0].prompt_tokens > 0


@pytest.mark.server
@pytest.mark.timeout(1800)
def test_server_is_stopped_even_when_the_body_fails(binary, tmp_path):
    with pytest.raises(RuntimeError, match="body failed"):
        with ls.llama_server(binary=binary, parallel=1, ctx_per_slot=512, threads=1,
                             log_path=tmp_path / "server.log") as s:
            assert s.get("/health")["status"] == "ok"
            assert len(s.slots()) == 1
            raise RuntimeError("body failed")
    assert s.process.poll() is not None
    port = int(s.url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                break
        time.sleep(0.1)
    else:
        pytest.fail(f"port {port} still answers after the server was stopped")
    assert not os.path.exists(s.args[s.args.index("--slot-save-path") + 1])
