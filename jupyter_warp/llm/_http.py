"""JSON over HTTP for the OpenAI-compatible backend: retried calls and one-shot probes."""

from __future__ import annotations

import threading
import time
from typing import Any

from ..errors import BackendError, BackendUnavailableError

_RETRY_STATUS = range(500, 600)


class ClientError(BackendError):
    """The server refused a request (HTTP 4xx): retrying would not help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def detail(response: Any) -> str:
    """The server's error message, on one line and at most 300 characters."""
    try:
        data = response.json()
    except ValueError:
        return str(response.text)[:300].replace("\n", " ")
    error = data.get("error", data) if isinstance(data, dict) else data
    message = error.get("message", error) if isinstance(error, dict) else error
    return str(message)[:300].replace("\n", " ")


class JSONClient:
    """An ``httpx.Client`` with retries for the calls that matter and none for probes.

    Parameters
    ----------
    base_url:
        Named in the unavailable message.
    timeout, connect_timeout:
        Seconds for a whole request and for connecting.
    max_tries, backoff, backoff_max:
        Attempts per request before giving up, first wait, longest wait (doubling).
    headers, max_connections:
        Passed to ``httpx.Client``.
    """

    resume_hint = "with the same command once it is up (progress is saved after every step)"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        connect_timeout: float,
        max_tries: int,
        backoff: float,
        backoff_max: float,
        headers: dict[str, str],
        max_connections: int,
    ) -> None:
        import httpx

        self.httpx = httpx
        self.base_url = base_url
        self.max_tries = max(1, int(max_tries))
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers=headers,
            limits=httpx.Limits(max_connections=max_connections),
        )

    def request(
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
        httpx = self.httpx
        last = ""
        for attempt in range(self.max_tries):
            if attempt:
                if give_up is not None and give_up.is_set():
                    break
                time.sleep(min(self.backoff_max, self.backoff * 2 ** (attempt - 1)))
            try:
                response = self.client.request(method, url, json=body)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if response.status_code in _RETRY_STATUS:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise ClientError(f"{url} answered HTTP {response.status_code}: {detail(response)}",
                                  response.status_code)
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

    def probe(self, method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
        """One call, never retried: the JSON answer of a 200, else None."""
        try:
            response = self.client.request(method, url, json=body, timeout=timeout)
            return response.json() if response.status_code == 200 else None
        except (self.httpx.HTTPError, ValueError):
            return None

    def post(self, url: str, body: dict[str, Any], timeout: float | None = None) -> Any:
        """The raw response of one POST (no retries); raises ``httpx.HTTPError``."""
        return self.client.post(url, json=body, timeout=timeout if timeout is not None else self.client.timeout)

    def close(self) -> None:
        self.client.close()
