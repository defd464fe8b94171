"""What each OpenAI-compatible server is, and which request fields it reads.

Read from the servers' own sources (vLLM's 0.10.2, 0.11.0, 0.12.0 and 0.33.0 releases,
ollama's ``openai/openai.go`` and API docs, llama.cpp's server README):

- **vLLM** lists models ``owned_by: "vllm"`` with ``max_model_len``; a LoRA adapter's card
  has no ``max_model_len``, only ``parent`` (the base model's id). ``/version`` answers the
  version. Grammars go in ``guided_grammar`` up to 0.10.x and in ``structured_outputs``
  from 0.11.0 (0.11.x reads both; 0.12.0 removed ``guided_grammar``). vLLM ignores an
  unknown request field with a logged warning, so the wrong field leaves replies
  unconstrained. ``/tokenize`` reads ``model``, ``prompt`` and ``add_special_tokens``;
  ``chat_template_kwargs`` reaches the chat template.
- **llama.cpp's llama-server**: ``owned_by: "llamacpp"``, GBNF in ``grammar``, ``/tokenize``
  reads ``content``, ``/props`` reports ``n_ctx``, ``chat_template_kwargs`` is read.
- **llama-cpp-python's server**: ``owned_by: "me"``, ``grammar``, ``/extras/tokenize/count``.
- **ollama**: ``owned_by`` is the model's namespace (``library`` for official models), so
  it is recognised by ``/api/version``. No grammar field, no tokenizer route; a prompt
  longer than its context (``num_ctx``) is silently cut. ``/api/ps`` reports a loaded
  model's ``context_length``; ``/api/show`` reports ``num_ctx`` where the Modelfile sets it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

VLLM = "vllm"
LLAMA_SERVER = "llama-server"
LLAMA_CPP_PYTHON = "llama-cpp-python"
OLLAMA = "ollama"
UNKNOWN = "unknown"

OWNERS = {"vllm": VLLM, "llamacpp": LLAMA_SERVER, "me": LLAMA_CPP_PYTHON}
"""``owned_by`` values that name the server outright."""
GRAMMAR_SERVERS = {LLAMA_SERVER: "grammar", LLAMA_CPP_PYTHON: "grammar", OLLAMA: "none"}
THINKING_SERVERS = {VLLM, LLAMA_SERVER}
"""Servers that pass ``chat_template_kwargs`` (``enable_thinking``) to the chat template."""
CONTEXT_ERROR = re.compile(
    r"context[ _]length|context size|context window|max_model_len|maximum model length", re.IGNORECASE
)
"""How servers say a prompt is too long (vLLM, llama.cpp, llama-cpp-python)."""
OLLAMA_DEFAULT_CONTEXT = 2048
"""Assumed when ollama reports no context: its smallest default across versions."""

PROBE_TEXT = "zebra-quartz-7319"
PROBE_GRAMMAR = f'root ::= "{PROBE_TEXT}"'
PROBE_PROMPT = "Reply with one word."
"""A grammar probe: no model says the probe text unprompted, and the prompt does not contain it."""


def grammar_body(field: str, grammar: str) -> dict[str, Any]:
    """The request-body fields that carry ``grammar`` for a server reading ``field``."""
    if field == "grammar":
        return {"grammar": grammar}
    if field == "structured_outputs":
        return {"structured_outputs": {"grammar": grammar}}
    if field == "guided_grammar":
        return {"guided_grammar": grammar}
    return {}


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """``"0.11.0rc1"`` -> ``(0, 11, 0)``; None when there is nothing to read."""
    numbers = re.findall(r"\d+", text or "")[:3]
    return tuple(int(n) for n in numbers) if len(numbers) >= 2 else None


def vllm_grammar_field(version: str | None) -> str | None:
    """The grammar field a vLLM of ``version`` reads; None when the version says nothing.

    A build from a checkout without tags reports ``0.0.x`` or ``0.1.devN``: unknown, so
    the caller probes instead.
    """
    parsed = parse_version(version)
    if parsed is None or parsed < (0, 4):
        return None
    return "guided_grammar" if parsed < (0, 11) else "structured_outputs"


def tokenize_routes(kind: str, model: str | None, text: str) -> list[tuple[str, dict[str, Any]]]:
    """``(route, body)`` pairs to ask, in order, for ``text``'s token count on ``kind``.

    Each body holds only the fields that server reads (vLLM logs a warning for any other).
    """
    vllm_body: dict[str, Any] = {"prompt": text, "add_special_tokens": False}
    if model:
        vllm_body["model"] = model
    llama_body = {"content": text}
    extras = ("/extras/tokenize/count", {"input": text})
    if kind == VLLM:
        return [("/tokenize", vllm_body)]
    if kind == LLAMA_SERVER:
        return [("/tokenize", llama_body)]
    if kind == LLAMA_CPP_PYTHON:
        return [extras]
    if kind == OLLAMA:
        return []
    return [("/tokenize", {**vllm_body, **llama_body}), extras]


def count_from(data: Any) -> int | None:
    """The count in a tokenize answer: ``count`` (vLLM, llama-cpp-python) or ``len(tokens)``."""
    if not isinstance(data, dict):
        return None
    count = data.get("count")
    if isinstance(count, int):
        return count
    tokens = data.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def card_window(cards: list[dict[str, Any]], model: str) -> int | None:
    """``max_model_len`` of ``model``'s card, or of its base model's for a LoRA adapter."""
    by_id = {str(card.get("id")): card for card in cards}
    card = by_id.get(model, {})
    window = _positive(card.get("max_model_len"))
    if window is None and card.get("parent"):
        window = _positive(by_id.get(str(card["parent"]), {}).get("max_model_len"))
    return window


def props_window(props: Any) -> int | None:
    """llama-server's ``/props``: ``default_generation_settings.n_ctx`` (or ``n_ctx``)."""
    if not isinstance(props, dict):
        return None
    settings = props.get("default_generation_settings")
    nested = settings.get("n_ctx") if isinstance(settings, dict) else None
    return _positive(nested) or _positive(props.get("n_ctx"))


def _ollama_names(model: str) -> set[str]:
    return {model} if ":" in model else {model, f"{model}:latest"}


def ollama_loaded_window(ps: Any, model: str) -> int | None:
    """The context ollama allocated for ``model`` (``/api/ps``), if it is loaded."""
    names = _ollama_names(model)
    for entry in ps.get("models", []) if isinstance(ps, dict) else []:
        if isinstance(entry, dict) and ({entry.get("name"), entry.get("model")} & names):
            return _positive(entry.get("context_length"))
    return None


def ollama_modelfile_window(show: Any) -> int | None:
    """``num_ctx`` from ``/api/show``'s ``parameters`` text, where the Modelfile sets it.

    ``model_info``'s ``*.context_length`` is the length the model was trained for, not the
    context ollama runs it with, so it is not used.
    """
    params = show.get("parameters") if isinstance(show, dict) else None
    found = re.search(r"^\s*num_ctx\s+(\d+)", params, re.MULTILINE) if isinstance(params, str) else None
    return _positive(int(found.group(1))) if found else None


def ollama_window(model: str, probe: Callable[..., Any], load: Callable[[], None]) -> int | None:
    """The context ollama runs ``model`` with: ``/api/ps`` once it is loaded (``load``
    loads it), else ``num_ctx`` from ``/api/show``; ``probe(method, path[, body])``."""
    window = ollama_loaded_window(probe("GET", "/api/ps"), model)
    if window is None:
        load()
        window = ollama_loaded_window(probe("GET", "/api/ps"), model)
    return window or ollama_modelfile_window(probe("POST", "/api/show", {"model": model}))
