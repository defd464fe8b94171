"""Loopback stand-ins for model servers, each with one real server's behaviour, for tests.

What each does was read from the server's source (vLLM's 0.10.2, 0.11.0, 0.12.0 and 0.33.0
releases; ollama's ``openai/openai.go`` and API docs):

- ``vllm``: ``/v1/models`` (``owned_by: vllm``, ``max_model_len``; a LoRA card has only
  ``parent``), ``/version`` (or none, or one that hangs), ``/tokenize`` (refusing a text
  longer than the window with a 400 when ``tokenize_limit``), and chat completions that
  honour the grammar field of their version, record every field that version would log as
  ignored, and refuse a prompt plus ``max_tokens`` over the window with vLLM's message.
- ``ollama``: ``owned_by: library``, ``/api/version``, ``/api/show`` (``num_ctx`` when set),
  ``/api/ps`` (``context_length`` once loaded), ``/api/generate`` without a prompt loads the
  model; no ``/tokenize``, no grammar; a longer prompt is silently cut to the window.
- ``parrot``: an unknown server that ignores grammars and always says ``free_reply`` (or
  repeats the prompt).

The "model" answers a grammar ``root ::= "TEXT"`` with ``TEXT``, any other grammar with
``constrained``, and a request without an honoured grammar with ``free_reply``. Tokens are
words (up to 6 characters), punctuation marks and CJK characters; the chat template adds
``TEMPLATE_TOKENS``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

TEMPLATE_TOKENS = 10
_TOKEN = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af]|\w{1,6}|[^\w\s]")
_LITERAL = re.compile(r'^root ::= "([^"]*)"$')

CHAT_FIELDS = {
    "messages", "model", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "max_tokens",
    "max_completion_tokens", "n", "presence_penalty", "response_format", "seed", "stop", "stream",
    "stream_options", "temperature", "top_p", "tools", "tool_choice", "user", "top_k", "min_p",
    "repetition_penalty", "chat_template", "chat_template_kwargs", "add_generation_prompt",
}  # fmt: skip
TOKENIZE_FIELDS = {"model", "prompt", "add_special_tokens", "return_token_strs"}


def count(text: str) -> int:
    """The stand-in model's tokens in ``text``."""
    return len(_TOKEN.findall(text))


def vllm_grammar_fields(version: str) -> set[str]:
    """The grammar fields a vLLM of ``version`` reads (0.11.x reads both)."""
    minor = tuple(int(x) for x in version.split(".")[:2])
    if minor < (0, 11):
        return {"guided_grammar"}
    return {"structured_outputs", "guided_grammar"} if minor < (0, 12) else {"structured_outputs"}


@dataclass
class Call:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class StandIn:
    """One stand-in server on a free loopback port; use it as a context manager."""

    kind: str = "vllm"
    version: str = "0.12.0"
    version_route: bool = True
    """Whether ``/version`` answers (a proxy in front of vLLM may not pass it on)."""
    window: int = 4096
    model: str = "org/model"
    lora: str | None = None
    tokenize_limit: bool = False
    version_delay: float = 0.0
    num_ctx: int | None = None
    ps_route: bool = True
    """Whether ollama's ``/api/ps`` reports ``context_length`` (older versions do not)."""
    free_reply: str = "Hello! How can I help you today?"
    """What the model says without an honoured grammar; ``ECHO`` repeats the prompt."""
    calls: list[Call] = field(default_factory=list)
    ignored: list[tuple[str, set[str]]] = field(default_factory=list)
    """(path, fields) for every request holding fields vLLM would log as ignored."""
    prompt_tokens: list[int] = field(default_factory=list)
    """Each chat prompt's tokens as the server counted them (before any cut)."""
    loaded: bool = False

    def __post_init__(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, data: Any) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                standin.calls.append(Call(method, self.path, body, dict(self.headers)))
                status, data = standin.route(method, self.path, body)
                self._answer(status, data)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def paths(self, path: str) -> list[Call]:
        """The calls made to ``path``."""
        return [c for c in self.calls if c.path == path]

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- routes ------------------------------------------------------------------

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if path == "/v1/models":
            return 200, {"object": "list", "data": self.cards()}
        if path == "/v1/chat/completions":
            return self.chat(body)
        if self.kind == "vllm" and path == "/version" and self.version_route:
            time.sleep(self.version_delay)
            return 200, {"version": self.version}
        if self.kind == "vllm" and path == "/tokenize":
            return self.tokenize(body)
        if self.kind == "ollama" and path.startswith("/api/"):
            return self.ollama(path, body)
        return 404, {"detail": "Not Found"}

    def cards(self) -> list[dict[str, Any]]:
        owner = {"vllm": "vllm", "ollama": "library"}.get(self.kind, "acme")
        base: dict[str, Any] = {"id": self.model, "object": "model", "owned_by": owner}
        if self.kind == "vllm":
            base["max_model_len"] = self.window
        cards = [base]
        if self.lora:
            cards.append({"id": self.lora, "object": "model", "owned_by": owner, "parent": self.model})
        return cards

    def _ignored(self, path: str, body: dict[str, Any], known: set[str]) -> None:
        extra = set(body) - known
        if extra:
            self.ignored.append((path, extra))

    def tokenize(self, body: dict[str, Any]) -> tuple[int, Any]:
        self._ignored("/tokenize", body, TOKENIZE_FIELDS)
        n = count(body.get("prompt", ""))
        if self.tokenize_limit and n > self.window:
            message = (f"This model's maximum context length is {self.window} tokens. "
                       f"However, your request has {n} input tokens.")
            return 400, {"error": {"message": message, "type": "BadRequestError", "code": 400}}
        return 200, {"count": n, "tokens": list(range(n)), "max_model_len": self.window}

    def ollama(self, path: str, body: Any) -> tuple[int, Any]:
        if path == "/api/version":
            return 200, {"version": "0.12.6"}
        if path == "/api/show":
            params = f"num_ctx {self.num_ctx}\nstop <|eot|>" if self.num_ctx else "stop <|eot|>"
            return 200, {"parameters": params, "model_info": {"llama.context_length": 131072}}
        if path == "/api/ps" and self.ps_route:
            entry = {"name": self.model, "model": self.model, "context_length": self.window}
            return 200, {"models": [entry] if self.loaded else []}
        if path == "/api/generate" and not (body or {}).get("prompt"):
            self.loaded = True
            return 200, {"model": self.model, "response": "", "done": True, "done_reason": "load"}
        return 404, {"error": "not found"}

    def chat(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self.kind == "vllm":
            fields = vllm_grammar_fields(self.version)
            self._ignored("/v1/chat/completions", body, CHAT_FIELDS | fields)
        else:
            fields = set()
        prompt = " ".join(m["content"] for m in body["messages"])
        n = count(prompt) + TEMPLATE_TOKENS
        self.prompt_tokens.append(n)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or 16
        if self.kind == "vllm" and n + max_tokens > self.window:
            message = (
                f"This model's maximum context length is {self.window} tokens. However, you requested "
                f"{n + max_tokens} tokens ({n} in the messages, {max_tokens} in the completion). "
                "Please reduce the length of the messages or completion."
            )
            return 400, {"object": "error", "message": message, "type": "BadRequestError", "code": 400}
        if self.kind == "ollama":
            self.loaded = True
        text = self.reply(body, fields)
        usage = {"prompt_tokens": min(n, self.window), "completion_tokens": count(text)}
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        return 200, {"object": "chat.completion", "choices": [choice], "usage": usage}

    def reply(self, body: dict[str, Any], fields: set[str]) -> str:
        grammar = None
        if "structured_outputs" in fields and isinstance(body.get("structured_outputs"), dict):
            grammar = body["structured_outputs"].get("grammar")
        if grammar is None and "guided_grammar" in fields:
            grammar = body.get("guided_grammar")
        if grammar is None:
            return " ".join(m["content"] for m in body["messages"]) if self.free_reply == "ECHO" else self.free_reply
        literal = _LITERAL.match(grammar.strip())
        return literal.group(1) if literal else "constrained"
