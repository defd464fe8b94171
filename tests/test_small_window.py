"""A real llama.cpp server on loopback started with a small window (2,048 tokens): a full run
of 20 steps finishes with no crash, every prompt and its reply within the window, and each
cut the prompt fitter made recorded in its step."""

from __future__ import annotations

import json

import pytest

from jupyter_warp.cli import main
from jupyter_warp.corpus import build_index
from jupyter_warp.corpus.samples import export_pydoc_topics

WINDOW = 2048


QUESTION = "How does Python handle exceptions, from the try statement to raising and chaining?"


@pytest.fixture(scope="module")
def server_and_index(tmp_path_factory):
    from servers import LlamaServer, require_llama_server

    require_llama_server()
    root = tmp_path_factory.mktemp("small")
    export_pydoc_topics(root / "corpus")
    build_index([root / "corpus"], root / "index", progress=False)
    with LlamaServer(n_ctx=WINDOW) as server:
        yield server, root / "index"


def run_cli(server, index, run_dir, steps: int, *extra: str) -> list[dict]:
    code = main(["run", QUESTION, "--index", str(index), "--model", f"openai:{server.url}", "--max-steps", str(steps),
                 "--run-dir", str(run_dir), "--set", "thought_max_chars=120", "--set", "write_max_chars=400",
                 "--set", "seed=0", "--quiet", *extra])
    assert code == 0
    return [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]


@pytest.mark.server
def test_full_run_on_a_2048_token_server(tmp_path, server_and_index):
    server, index = server_and_index
    # llama-cpp-python's server reports no window (llama.cpp's llama-server does, in /props): say it.
    # The embedded model's assists keep its prompts short; without them every prompt carries
    # passages and the whole report, as a capable model's do, and the fitter has to cut.
    steps = run_cli(server, index, tmp_path / "run", 20, "--set", f"context_window={WINDOW}",
                    "--set", "assist=off", "--set", "write_mode=free")
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert len(steps) == state["step"] and (len(steps) == 20 or state["status"] == "done")
    for step in steps:
        assert step["prompt_tokens"] + step["completion_tokens"] <= WINDOW, step["index"]
        assert "maximum context length" not in (step["error"] or "")
    assert any(s["state"] == "init_plan" and s["cut"].get("passages") for s in steps), [s["cut"] for s in steps]
    assert all(s["cut"].get("reply_tokens") for s in steps if s["state"] == "write")
    assert sum(s["state"] == "write" for s in steps) >= 1 and (tmp_path / "run" / "report.md").is_file()


@pytest.mark.server
def test_a_server_that_hides_its_window_is_learned_from_its_refusal(tmp_path, server_and_index):
    server, index = server_and_index
    steps = run_cli(server, index, tmp_path / "run", 5)
    refused = [s for s in steps if "maximum context length is 2048" in (s["error"] or "")]
    assert len(refused) <= 1 and all(s["prompt_tokens"] + s["completion_tokens"] <= WINDOW for s in steps)
    assert len(steps) == 5
