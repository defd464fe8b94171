"""Any OpenAI-compatible server over HTTP: ``vllm serve``, llama.cpp's server, ollama.

A batch goes out as parallel requests (``concurrency`` threads) so a batching server
(vLLM, ``llama-server -np 8``) decodes them together. Connection errors, timeouts and 5xx
answers are retried with exponential backoff; a server that never answers raises
``BackendUnavailableError`` (the run is saved and can resume once it is back). A prompt
the server refuses as too long is that request's error Completion, not a failed batch.

The server is recognised once (see ``_servers``) and each request carries only the fields
it reads. Grammars go under ``grammar_field``: ``grammar`` (llama.cpp's servers),
``structured_outputs`` (vLLM 0.11.0 on), ``guided_grammar`` (vLLM before 0.12.0) or
``none``. ``auto`` picks by server, vLLM by the version ``/version`` reports (one short
call, no retries); when that says nothing, and for unknown servers, a grammar forcing a
string no model says unprompted is sent under each candidate field, and a field counts
only when the reply is exactly that string. A server that obeys none is reported once.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import BackendError, BackendUnavailableError, ConfigError
from ..records import ChatRequest, Completion
from . import _servers as servers
from ._http import ClientError, JSONClient
from ._servers import grammar_body
from .base import Backend, estimate_tokens, positive_option

log = logging.getLogger(__name__)

GRAMMAR_FIELDS = ("auto", "grammar", "structured_outputs", "guided_grammar", "none")
DEFAULT_CONTEXT = 8192


class OpenAIBackend(Backend):
    """Chat completions from an OpenAI-compatible endpoint.

    Parameters
    ----------
    base_url:
        The API root, e.g. ``http://127.0.0.1:8000/v1``.
    model:
        Model name; default: the first one ``/models`` lists.
    timeout, connect_timeout:
        Seconds for a whole request and for connecting.
    max_tries, backoff, backoff_max:
        Attempts per request before giving up, first wait, longest wait (doubling).
    concurrency:
        Requests of a batch in flight at once.
    grammar_field:
        ``auto``, ``grammar``, ``structured_outputs``, ``guided_grammar`` or ``none``.
    context_window:
        Overrides what the server reports (vLLM's ``max_model_len``, llama.cpp's ``/props``,
        ollama's ``/api/ps``); needed for ollama unless its context is reported.
    api_key:
        Sent as a bearer token; default ``$OPENAI_API_KEY``.
    extra_body:
        Extra fields for every completion request (``top_k``, ``repetition_penalty``...).
    enable_thinking:
        Sent as ``chat_template_kwargs`` to servers that read it (vLLM, llama-server);
        off by default, as the reference system runs its model.
    """

    name = "openai"
    OPTIONS = (
        "model", "timeout", "connect_timeout", "max_tries", "backoff", "backoff_max", "concurrency",
        "grammar_field", "context_window", "api_key", "extra_body", "enable_thinking",
    )  # fmt: skip
    probe_timeout = 5.0
    """Seconds for each discovery call (``/version``, ``/props``, ollama's ``/api/*``); never retried."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        timeout: float = 600.0,
        connect_timeout: float = 10.0,
        max_tries: int = 5,
        backoff: float = 1.0,
        backoff_max: float = 30.0,
        concurrency: int = 8,
        grammar_field: str = "auto",
        context_window: int | None = None,
        api_key: str | None = None,
        extra_body: dict[str, Any] | None = None,
        enable_thinking: bool = False,
    ) -> None:
        if grammar_field not in GRAMMAR_FIELDS:
            raise ConfigError(
                f"grammar_field must be one of {', '.join(GRAMMAR_FIELDS)}, got {grammar_field!r}"
            )
        if not re.match(r"^https?://", base_url):
            raise ConfigError(f"openai backend needs an http(s) URL, got {base_url!r}")
        if extra_body is not None and not isinstance(extra_body, dict):
            raise ConfigError(f"backend option extra_body must be a JSON object, got {extra_body!r}")
        if not isinstance(enable_thinking, bool):
            raise ConfigError(f"backend option enable_thinking must be true or false, got {enable_thinking!r}")
        self.base_url = base_url.rstrip("/")
        self.root_url = re.sub(r"/v1$", "", self.base_url)
        self.name = f"openai:{self.base_url}"
        self._model = model
        self.concurrency = max(1, int(concurrency))
        self.extra_body = dict(extra_body or {})
        self.enable_thinking = enable_thinking
        self._grammar_field: str | None = None if grammar_field == "auto" else grammar_field
        self._context_window = (None if context_window is None
                                else positive_option("context_window", context_window, int))
        self._kind: str | None = None
        self._models: list[dict[str, Any]] | None = None
        self._token_counts: OrderedDict[str, int] = OrderedDict()
        self._tokenize_route: str | None = None
        self._missing_routes: set[str] = set()
        self._lock = threading.RLock()
        api_key = os.environ.get("OPENAI_API_KEY") if api_key is None else api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = JSONClient(
            self.base_url,
            timeout=positive_option("timeout", timeout),
            connect_timeout=connect_timeout,
            max_tries=max_tries,
            backoff=backoff,
            backoff_max=backoff_max,
            headers=headers,
            max_connections=self.concurrency + 2,
        )

    @classmethod
    def from_spec(cls, target: str | None, **options: Any) -> OpenAIBackend:
        """``openai:BASE_URL`` or ``openai:BASE_URL#MODEL``."""
        if not target:
            raise ConfigError("the openai backend needs a URL: openai:http://HOST:PORT/v1[#MODEL]")
        url, _, model = target.partition("#")
        option_model = options.pop("model", None)
        return cls(url, model or option_model, **options)

    def _probe(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One short call to the server root, never retried: the JSON answer, or None."""
        return self.http.probe(method, f"{self.root_url}{path}", body, self.probe_timeout)

    def _load_ollama_model(self) -> None:
        """ollama's documented way to load a model: ``/api/generate`` without a prompt."""
        try:
            self.http.post(f"{self.root_url}/api/generate", {"model": self.model})
        except self.http.httpx.HTTPError:
            pass

    # -- what the server is and offers -----------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """The server's ``/models`` list (fetched once)."""
        with self._lock:
            if self._models is None:
                data = self.http.request("GET", f"{self.base_url}/models")
                self._models = list(data.get("data", [])) if isinstance(data, dict) else []
            return self._models

    @property
    def model(self) -> str:
        """The model name requests carry; the first one listed unless one was given."""
        if self._model is None:
            listed = self.models()
            if not listed:
                raise BackendError(f"model server at {self.base_url} lists no model: name one with #MODEL")
            self._model = str(listed[0]["id"])
        return self._model

    def _card(self) -> dict[str, Any]:
        for card in self.models():
            if card.get("id") == self.model:
                return card
        return {}

    @property
    def server_kind(self) -> str:
        """``vllm``, ``llama-server``, ``llama-cpp-python``, ``ollama`` or ``unknown``."""
        with self._lock:
            if self._kind is None:
                owner = str(self._card().get("owned_by", "")).lower()
                kind = servers.OWNERS.get(owner)
                if kind is None:
                    answer = self._probe("GET", "/api/version")
                    kind = servers.OLLAMA if isinstance(answer, dict) and "version" in answer else servers.UNKNOWN
                self._kind = kind
                log.info("%s: the server is %s", self.name, kind)
            return self._kind

    @property
    def context_window(self) -> int:  # type: ignore[override]
        """The option, else what the server reports, else 8192 (ollama: 2048)."""
        with self._lock:
            if self._context_window is None:
                window = self._reported_window()
                if window is None and self.server_kind == servers.OLLAMA:
                    window = servers.OLLAMA_DEFAULT_CONTEXT
                    log.warning(
                        "%s: ollama reports no context length for %s, assuming %d tokens (ollama cuts "
                        "longer prompts): raise OLLAMA_CONTEXT_LENGTH on the server, or set the "
                        "backend option context_window",
                        self.name, self.model, window,
                    )  # fmt: skip
                self._context_window = window or DEFAULT_CONTEXT
            return self._context_window

    def _reported_window(self) -> int | None:
        kind = self.server_kind
        if kind == servers.OLLAMA:
            return servers.ollama_window(self.model, self._probe, self._load_ollama_model)
        window = servers.card_window(self.models(), self.model)
        if window is None and kind in (servers.LLAMA_SERVER, servers.UNKNOWN):
            window = servers.props_window(self._probe("GET", "/props"))
        return window

    @property
    def grammar_field(self) -> str:
        """The body field grammars go in, detected on first use when ``auto``."""
        with self._lock:
            if self._grammar_field is None:
                self._grammar_field = self._detect_grammar_field()
                log.info("%s: grammars go in %r", self.name, self._grammar_field)
            return self._grammar_field

    @property
    def supports_grammar(self) -> bool:  # type: ignore[override]
        """Whether the server takes a grammar field (found out on first use)."""
        return self.grammar_field != "none"

    def _detect_grammar_field(self) -> str:
        kind = self.server_kind
        if kind in servers.GRAMMAR_SERVERS:
            field = servers.GRAMMAR_SERVERS[kind]
            if field == "none":
                log.warning("%s: %s enforces no grammar; replies are unconstrained", self.name, kind)
            return field
        candidates: tuple[str, ...] = ("grammar", "structured_outputs", "guided_grammar")
        if kind == servers.VLLM:
            answer = self._probe("GET", "/version")
            by_version = servers.vllm_grammar_field(str(answer.get("version", "")) if isinstance(answer, dict) else "")
            if by_version:
                return by_version
            candidates = ("structured_outputs", "guided_grammar")
        for field in candidates:
            probe = ChatRequest(servers.PROBE_PROMPT, grammar=servers.PROBE_GRAMMAR, max_tokens=16, temperature=0.0)
            try:
                reply = self._complete(probe, field)
            except BackendUnavailableError:
                raise
            except BackendError:
                continue
            if not reply.error and reply.text.strip() == servers.PROBE_TEXT:
                return field
        log.warning(
            "%s: the server ignored a grammar sent as %s; replies are unconstrained (set the "
            "backend option grammar_field if the server reads another field)",
            self.name, ", ".join(candidates),
        )  # fmt: skip
        return "none"

    # -- the interface -------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """The server's own count (``/tokenize``, or llama-cpp-python's ``/extras/tokenize/count``).

        A text the server refuses to count (vLLM refuses one longer than its window) is
        estimated alone; a server without the route (404/405) is estimated from then on.
        ollama has no route and is always estimated. Counts are cached per text.
        """
        with self._lock:
            if text in self._token_counts:
                self._token_counts.move_to_end(text)
                return self._token_counts[text]
        count, cacheable = self._server_count(text)
        if cacheable:
            with self._lock:
                self._token_counts[text] = count
                if len(self._token_counts) > 4096:
                    self._token_counts.popitem(last=False)
        return count

    def _server_count(self, text: str) -> tuple[int, bool]:
        """(count, whether it may be cached)."""
        routes = servers.tokenize_routes(self.server_kind, self.model, text)
        if self._tokenize_route:
            routes = [r for r in routes if r[0] == self._tokenize_route]
        for route, body in routes:
            if route in self._missing_routes:
                continue
            try:
                response = self.http.post(f"{self.root_url}{route}", body, timeout=30.0)
            except self.http.httpx.HTTPError:
                return estimate_tokens(text), False
            if response.status_code in (404, 405):
                self._missing_routes.add(route)
                continue
            if response.status_code != 200:
                return estimate_tokens(text), response.status_code < 500
            try:
                count = servers.count_from(response.json())
            except ValueError:
                count = None
            if count is None:
                self._missing_routes.add(route)
                continue
            self._tokenize_route = route
            return count, True
        return estimate_tokens(text), True

    def _body(self, request: ChatRequest, field: str) -> dict[str, Any]:
        """The request body, with only the fields this server reads."""
        kind = self.server_kind
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages(),
            "max_completion_tokens" if kind == servers.VLLM else "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": False,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if kind in servers.THINKING_SERVERS:
            body["chat_template_kwargs"] = {"enable_thinking": self.enable_thinking}
        if request.grammar:
            body.update(grammar_body(field, request.grammar))
        for key, value in self.extra_body.items():
            merge = isinstance(value, dict) and isinstance(body.get(key), dict)
            body[key] = {**body[key], **value} if merge else value
        return body

    def _complete(
        self, request: ChatRequest, field: str, give_up: threading.Event | None = None
    ) -> Completion:
        body = self._body(request, field)
        started = time.perf_counter()
        try:
            data = self.http.request("POST", f"{self.base_url}/chat/completions", body, give_up)
        except ClientError as exc:
            if exc.status not in (400, 413, 422):
                raise
            error = str(exc)
            if servers.CONTEXT_ERROR.search(error):
                error = (
                    f"the prompt does not fit the context window of {self.name} "
                    f"({self.context_window} tokens): {exc}"
                )
            return Completion(
                text="", latency_s=time.perf_counter() - started, finish_reason="error", error=error
            )
        latency = time.perf_counter() - started
        choice = (data.get("choices") or [{}])[0]
        usage = data.get("usage") or {}
        finish = choice.get("finish_reason") or "stop"
        return Completion(
            text=(choice.get("message") or {}).get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            latency_s=latency,
            finish_reason="length" if finish == "length" else "stop",
        )

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """All requests in parallel (up to ``concurrency``), answers in request order."""
        if not requests:
            return []
        _ = self.model, self.server_kind  # resolved once here, not by every worker
        field = self.grammar_field if any(r.grammar for r in requests) else "none"
        give_up = threading.Event()
        if len(requests) == 1 or self.concurrency == 1:
            return [self._complete(r, field, give_up) for r in requests]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            futures = [pool.submit(self._complete, r, field, give_up) for r in requests]
            try:
                return [f.result() for f in futures]
            except BaseException:
                give_up.set()
                for future in futures:
                    future.cancel()
                raise

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()
