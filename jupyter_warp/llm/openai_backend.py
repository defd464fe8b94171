"""Any OpenAI-compatible server over HTTP: ``vllm serve``, llama.cpp's server, ollama.

A batch goes out as parallel requests (``concurrency`` threads) so a batching server
(vLLM, ``llama-server -np 8``) decodes them together. Connection errors, timeouts and 5xx
answers are retried with exponential backoff; a server that never answers raises
``BackendUnavailableError`` (the run is saved and can resume once it is back).

Grammars travel in the request body under the field the server reads (``grammar_field``):

- ``grammar``: llama.cpp's ``llama-server`` and llama-cpp-python's server (GBNF string);
- ``structured_outputs``: vLLM 0.10.2 and later (``{"structured_outputs": {"grammar": ...}}``);
- ``guided_grammar``: vLLM before 0.12 (removed there);
- ``none``: send no grammar (``supports_grammar`` is then False).

``auto`` decides on first use from ``/models``' ``owned_by``: ``vllm`` picks by the version
``/version`` reports, ``llamacpp`` (llama-server) and ``me`` (llama-cpp-python) pick
``grammar``; any other server is probed with a one-token grammar (``root ::= "ok"``) under
each field in turn, and the first field whose reply obeys it wins (none: ``none``).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import BackendError, BackendUnavailableError, ConfigError
from ..records import ChatRequest, Completion
from .base import Backend

log = logging.getLogger(__name__)

GRAMMAR_FIELDS = ("auto", "grammar", "structured_outputs", "guided_grammar", "none")
PROBE_GRAMMAR = 'root ::= "ok"'
DEFAULT_CONTEXT = 8192
_RETRY_STATUS = range(500, 600)
_CONTEXT_ERROR = re.compile(r"context[ _]length|context size|context window|max_model_len", re.IGNORECASE)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def grammar_body(field: str, grammar: str) -> dict[str, Any]:
    """The request-body fields that carry ``grammar`` for a server reading ``field``."""
    if field == "grammar":
        return {"grammar": grammar}
    if field == "structured_outputs":
        return {"structured_outputs": {"grammar": grammar}}
    if field == "guided_grammar":
        return {"guided_grammar": grammar}
    return {}


class _ClientError(BackendError):
    """The server refused a request (HTTP 4xx): retrying would not help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


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
        Overrides what the server reports (vLLM's ``max_model_len``, llama.cpp's ``/props``).
    api_key:
        Sent as a bearer token when given.
    extra_body:
        Extra fields for every completion request (``top_k``, ``repetition_penalty``...).
    """

    name = "openai"
    resume_hint = "with the same command once it is up (progress is saved after every step)"
    """Set by the engine to name the exact resume command in the unavailable message."""

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
    ) -> None:
        import httpx

        if grammar_field not in GRAMMAR_FIELDS:
            raise ConfigError(
                f"grammar_field must be one of {', '.join(GRAMMAR_FIELDS)}, got {grammar_field!r}"
            )
        if not re.match(r"^https?://", base_url):
            raise ConfigError(f"openai backend needs an http(s) URL, got {base_url!r}")
        self._httpx = httpx
        self.base_url = base_url.rstrip("/")
        self.root_url = re.sub(r"/v1$", "", self.base_url)
        self.name = f"openai:{self.base_url}"
        self._model = model
        self.max_tries = max(1, int(max_tries))
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.concurrency = max(1, int(concurrency))
        self.extra_body = dict(extra_body or {})
        self._grammar_field: str | None = None if grammar_field == "auto" else grammar_field
        self._context_window = context_window
        self._models: list[dict[str, Any]] | None = None
        self._token_counts: OrderedDict[str, int] = OrderedDict()
        self._tokenize_route: str | None = None
        self._lock = threading.RLock()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers=headers,
            limits=httpx.Limits(max_connections=self.concurrency + 2),
        )

    @classmethod
    def from_spec(cls, target: str | None, **options: Any) -> OpenAIBackend:
        """``openai:BASE_URL`` or ``openai:BASE_URL#MODEL``."""
        if not target:
            raise ConfigError("the openai backend needs a URL: openai:http://HOST:PORT/v1[#MODEL]")
        url, _, model = target.partition("#")
        return cls(url, model or options.pop("model", None), **options)

    # -- HTTP with retries -------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        give_up: threading.Event | None = None,
    ) -> Any:
        """JSON answer of one call, retried on connection errors, timeouts and 5xx.

        ``give_up`` is set when another request of the same batch has given up, so the
        rest stop retrying instead of each waiting out its own backoff.
        """
        httpx = self._httpx
        last = ""
        for attempt in range(self.max_tries):
            if attempt:
                if give_up is not None and give_up.is_set():
                    break
                time.sleep(min(self.backoff_max, self.backoff * 2 ** (attempt - 1)))
            try:
                response = self._client.request(method, url, json=body)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if response.status_code in _RETRY_STATUS:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise _ClientError(
                    f"{url} answered HTTP {response.status_code}: {self._detail(response)}",
                    response.status_code,
                )
            try:
                return response.json()
            except ValueError as exc:
                raise BackendError(f"{url} answered something that is not JSON") from exc
        if give_up is not None:
            give_up.set()
        raise BackendUnavailableError(
            f"model server at {self.base_url} did not answer after {self.max_tries} tries ({last}): "
            f"start it or check the URL; the run can be resumed {self.resume_hint}"
        )

    @staticmethod
    def _detail(response: Any) -> str:
        try:
            data = response.json()
        except ValueError:
            return str(response.text)[:300].replace("\n", " ")
        error = data.get("error", data) if isinstance(data, dict) else data
        message = error.get("message", error) if isinstance(error, dict) else error
        return str(message)[:300].replace("\n", " ")

    # -- what the server offers --------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """The server's ``/models`` list (fetched once)."""
        with self._lock:
            if self._models is None:
                data = self._request("GET", f"{self.base_url}/models")
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
    def context_window(self) -> int:  # type: ignore[override]
        """From the option, vLLM's ``max_model_len``, llama.cpp's ``/props``, else 8192."""
        if self._context_window is None:
            window = self._card().get("max_model_len")
            if not isinstance(window, int):
                try:
                    props = self._client.get(f"{self.root_url}/props", timeout=5.0).json()
                    window = props.get("default_generation_settings", {}).get("n_ctx")
                except (self._httpx.HTTPError, ValueError, AttributeError):
                    window = None  # no /props (not llama-server) or not the expected shape
            self._context_window = window if isinstance(window, int) and window > 0 else DEFAULT_CONTEXT
        return self._context_window

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
        return self.grammar_field != "none"

    def _detect_grammar_field(self) -> str:
        owner = str(self._card().get("owned_by", "")).lower()
        if owner == "vllm":
            try:
                version = str(self._request("GET", f"{self.root_url}/version").get("version", ""))
            except BackendError:
                version = ""
            return "guided_grammar" if version and _version(version) < (0, 10, 2) else "structured_outputs"
        if owner in ("llamacpp", "me"):
            return "grammar"
        for field in ("grammar", "structured_outputs", "guided_grammar"):
            probe = ChatRequest("Say ok.", grammar=PROBE_GRAMMAR, max_tokens=4, temperature=0.0)
            try:
                reply = self._complete(probe, field)
            except BackendUnavailableError:
                raise
            except BackendError:
                continue
            if reply.text.strip() == "ok":
                return field
        log.warning(
            "%s: the server enforces no grammar field this backend knows; replies are unconstrained",
            self.name,
        )
        return "none"

    # -- the interface -------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """The server's own count (``/tokenize``, or llama-cpp-python's ``/extras/tokenize/count``).

        Falls back to four characters a token where the server has neither; cached per text.
        """
        with self._lock:
            if text in self._token_counts:
                self._token_counts.move_to_end(text)
                return self._token_counts[text]
        count = self._server_count(text)
        with self._lock:
            self._token_counts[text] = count
            if len(self._token_counts) > 4096:
                self._token_counts.popitem(last=False)
        return count

    def _server_count(self, text: str) -> int:
        httpx = self._httpx
        routes = [self._tokenize_route] if self._tokenize_route else ["/tokenize", "/extras/tokenize/count"]
        for route in routes:
            if route == "estimate":
                break
            body: dict[str, Any] = (
                {"input": text}
                if route.startswith("/extras")
                else {"content": text, "prompt": text, "add_special_tokens": False}
            )
            if self._model:
                body["model"] = self._model
            try:
                response = self._client.post(f"{self.root_url}{route}", json=body, timeout=30.0)
            except (httpx.TransportError, httpx.TimeoutException):
                return math.ceil(len(text) / 4)
            if response.status_code != 200:
                continue
            data = response.json()
            count = data.get("count")
            if not isinstance(count, int) and isinstance(data.get("tokens"), list):
                count = len(data["tokens"])
            if isinstance(count, int):
                self._tokenize_route = route
                return count
        self._tokenize_route = "estimate"
        return math.ceil(len(text) / 4)

    def _complete(
        self, request: ChatRequest, field: str, give_up: threading.Event | None = None
    ) -> Completion:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages(),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": False,
            **self.extra_body,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.grammar:
            body.update(grammar_body(field, request.grammar))
        started = time.perf_counter()
        try:
            data = self._request("POST", f"{self.base_url}/chat/completions", body, give_up)
        except _ClientError as exc:
            if exc.status not in (400, 422):
                raise
            if _CONTEXT_ERROR.search(str(exc)):
                raise BackendError(
                    f"a prompt does not fit the context window of {self.name}: {exc}; "
                    "budget the prompt to the window"
                ) from exc
            return Completion(
                text="", latency_s=time.perf_counter() - started, finish_reason="error", error=str(exc)
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
        _ = self.model  # resolved once here, not by every worker
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
        self._client.close()
