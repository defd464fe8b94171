"""The thinking switch: off by default everywhere, on with ``enable_thinking``, reaching every
backend that takes it (the chat template's ``enable_thinking``), and the window the machine
fits to never exceeds the backend's."""

from __future__ import annotations

import pytest

from jupyter_warp.config import WarpConfig
from jupyter_warp.machine.profile import backend_options
from jupyter_warp.machine.stage import ModelInfo
from jupyter_warp.records import ChatRequest
from scripted import ScriptedBackend, good_script


def test_the_setting_reaches_backends_that_take_it():
    assert backend_options(WarpConfig(model="openai:http://h/v1")) == {}
    on = WarpConfig(model="openai:http://h/v1", enable_thinking=True, backend_options={"timeout": 9})
    assert backend_options(on) == {"timeout": 9, "enable_thinking": True}
    for spec in ("smollm2", "transformers:x", "llamacpp:smollm2", "vllm:m"):
        assert backend_options(WarpConfig(model=spec, enable_thinking=True)).get("enable_thinking") is True, spec
    assert "enable_thinking" not in backend_options(WarpConfig(model="replay:x.jsonl", enable_thinking=True))
    explicit = WarpConfig(model="openai:http://h/v1", enable_thinking=True, backend_options={"enable_thinking": False})
    assert backend_options(explicit) == {"enable_thinking": False}


def test_the_window_is_the_smaller_of_backend_and_setting():
    backend = ScriptedBackend(good_script(), context_window=4096)
    assert ModelInfo.from_backend(backend, WarpConfig()).context_window == 4096
    assert ModelInfo.from_backend(backend, WarpConfig(context_window=2048)).context_window == 2048
    assert ModelInfo.from_backend(backend, WarpConfig(context_window=100_000)).context_window == 4096


@pytest.mark.model
def test_transformers_passes_the_switch_to_the_chat_template():
    from jupyter_warp.llm.transformers_backend import TransformersBackend

    backend = TransformersBackend("smollm2")
    backend.tokenizer.chat_template = "{{ 'think' if enable_thinking else 'plain' }}:{{ messages[0]['content'] }}"
    assert backend.render(ChatRequest("q")) == "plain:q"
    backend.enable_thinking = True
    assert backend.render(ChatRequest("q")) == "think:q"
