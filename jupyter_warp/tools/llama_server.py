"""llama.cpp's own ``llama-server``: parallel slots and continuous batching on a CPU.

``llama-cpp-python[server]`` answers one request at a time, so a batch of requests sent
concurrently is still decoded one after another. ``llama-server`` decodes every busy slot
in one batch per token. :func:`llama_server` starts the binary ``llama_build`` made on
loopback and always stops it; ``python -m jupyter_warp.tools.llama_server build|path|serve``
builds, finds or serves it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError
from ..llm._models import smollm2_gguf
from .llama_build import LlamaServerMissingError, cached_binary, ensure_llama_server, find_llama_server, tail

__all__ = ["LlamaServer", "LlamaServerMissingError", "llama_server", "free_port", "find_llama_server",
           "ensure_llama_server", "cached_binary", "main"]


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the thread that started it dies, however it dies
    (even by SIGKILL), so no server outlives a killed test or bench. Elsewhere: nothing."""
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS reports free now, for a server to listen on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """Ask ``proc`` to stop (SIGTERM) and kill it if it has not within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class LlamaServer:
    """A running ``llama-server``: its address and a few read-outs used by tests and bench."""

    url: str
    """``http://127.0.0.1:PORT`` (no ``/v1``)."""
    process: subprocess.Popen[bytes]
    log_path: Path
    parallel: int
    ctx_size: int
    args: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, ``.../v1``."""
        return self.url + "/v1"

    @property
    def spec(self) -> str:
        """The backend spec for :func:`jupyter_warp.llm.get_backend`."""
        return f"openai:{self.base_url}"

    def get(self, path: str) -> Any:
        """``GET`` a server endpoint: JSON decoded, anything else as text."""
        import httpx

        r = httpx.get(self.url + path, timeout=10, trust_env=False)
        r.raise_for_status()
        return r.json() if "json" in r.headers.get("content-type", "") else r.text

    def slots(self) -> list[dict[str, Any]]:
        """``GET /slots``: one record per parallel slot (``n_decoded``, ``is_processing``...)."""
        return list(self.get("/slots"))

    def metrics(self) -> dict[str, float]:
        """``GET /metrics`` (Prometheus text) as ``{name: value}``, names without the ``llamacpp:`` prefix."""
        out: dict[str, float] = {}
        for line in str(self.get("/metrics")).splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    out[name.split("{")[0].removeprefix("llamacpp:")] = float(value)
        return out

    def erase_slots(self) -> None:
        """Forget every slot's cached prompt (so one measurement does not reuse another's KV cache)."""
        import httpx

        for i in range(self.parallel):
            httpx.post(f"{self.url}/slots/{i}?action=erase", timeout=10, trust_env=False).raise_for_status()

    def busy_slots_per_decode(self, since: dict[str, float] | None = None) -> float:
        """Average busy slots per ``llama_decode`` call, over the server's life or since the
        ``metrics()`` snapshot ``since``: 1.0 when requests ran one at a time, more when batched."""
        now = self.metrics()
        key, n = "n_busy_slots_per_decode", "n_decode_total"
        busy = now.get(key, 0.0) * now.get(n, 0.0)
        decodes = now.get(n, 0.0)
        if since:
            busy -= since.get(key, 0.0) * since.get(n, 0.0)
            decodes -= since.get(n, 0.0)
        return busy / decodes if decodes > 0 else 0.0

    def logtail(self, lines: int = 30) -> str:
        """The last ``lines`` of the server's log, for error messages."""
        return tail(self.log_path, lines)


@contextlib.contextmanager
def llama_server(model: str | Path | None = None, *, parallel: int = 8, ctx_per_slot: int = 4096,
                 threads: int | None = None, host: str = "127.0.0.1", port: int | None = None,
                 binary: str | Path | None = None, extra_args: Sequence[str] = (), startup_timeout: float = 120.0,
                 log_path: str | Path | None = None, build: bool | None = None,
                 log: Callable[[str], None] | None = None) -> Iterator[LlamaServer]:
    """Start ``llama-server`` with ``parallel`` slots and continuous batching; stop it on exit.

    ``model`` is a GGUF path (default: the embedded SmolLM2). The context is
    ``parallel * ctx_per_slot`` tokens, shared out so that each slot gets ``ctx_per_slot``.
    ``/slots`` and ``/metrics`` are enabled, and so are slot actions (``POST
    /slots/ID?action=erase``, see :meth:`LlamaServer.erase_slots`), through a temporary
    ``--slot-save-path``. Yields once ``/health`` answers 200.

    ``threads=None`` leaves the thread count to llama-server (all cores). On a small machine
    shared with other work, ``threads=1`` is far faster: llama.cpp's worker threads spin
    while they wait for each other, and one that loses its core stalls every token
    (measured on 2 busy cores: 43 tok/s with one thread, 1 tok/s with two).
    """
    import httpx

    exe = Path(binary) if binary else ensure_llama_server(build=build, log=log)
    gguf = Path(model) if model else smollm2_gguf()
    port = port or free_port(host)
    own_log = log_path is None  # a temporary log, removed unless the server failed
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
        os.close(fd)
        log_path = name
    log_path = Path(log_path)
    slot_dir = tempfile.mkdtemp(prefix="llama-server-slots-")
    args = [str(exe), "-m", str(gguf), "--host", host, "--port", str(port), "-np", str(parallel),
            "-c", str(parallel * ctx_per_slot), "--cont-batching", "--metrics", "--slots", "--no-webui",
            "--slot-save-path", slot_dir + os.sep]
    if threads:
        args += ["-t", str(threads)]
    args += list(extra_args)
    try:
        with log_path.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    except OSError as exc:
        shutil.rmtree(slot_dir, ignore_errors=True)
        raise BackendUnavailableError(f"could not start {exe}: {exc}") from None
    server = LlamaServer(f"http://{host}:{port}", proc, log_path, parallel, parallel * ctx_per_slot, args)
    clean = False
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise BackendUnavailableError(f"llama-server exited with {proc.returncode} while starting; "
                                              f"log {log_path}:\n{server.logtail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(server.url + "/health", timeout=2, trust_env=False).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise BackendUnavailableError(f"llama-server did not answer /health within {startup_timeout:.0f} s; "
                                              f"log {log_path}:\n{server.logtail()}")
            time.sleep(0.2)
        yield server
        clean = True
    finally:
        stop_process(proc)
        shutil.rmtree(slot_dir, ignore_errors=True)
        if clean and own_log:
            log_path.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jupyter_warp.tools.llama_server build|path|serve``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m jupyter_warp.tools.llama_server", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build and cache llama-server (no-op when cached)")
    b.add_argument("--version", default=None, help="llama-cpp-python version (default: the installed one)")
    b.add_argument("--source", default=None, help="an sdist tarball or unpacked source instead of downloading")
    b.add_argument("--jobs", type=int, default=None)
    b.add_argument("--force", action="store_true", help="rebuild even when cached")
    sub.add_parser("path", help="print the cached binary's path (exit 1 when missing)")
    s = sub.add_parser("serve", help="run llama-server on the embedded model until Ctrl-C")
    s.add_argument("--parallel", type=int, default=8)
    s.add_argument("--ctx-per-slot", type=int, default=4096)
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--model", default=None)
    s.add_argument("--threads", type=int, default=None, help="default: llama-server's own (all cores)")
    a = p.parse_args(argv)
    if a.cmd == "build":
        if a.force:
            cached_binary(a.version).unlink(missing_ok=True)
        print(ensure_llama_server(a.version, build=True, source=a.source, jobs=a.jobs))
    elif a.cmd == "path":
        found = find_llama_server()
        print(found or cached_binary())
        return 0 if found else 1
    else:
        import signal

        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill PID` stops the server too
        with llama_server(a.model, parallel=a.parallel, ctx_per_slot=a.ctx_per_slot, port=a.port,
                          threads=a.threads) as server:
            print(f"llama-server at {server.base_url} (backend spec {server.spec}); Ctrl-C stops it", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                server.process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
