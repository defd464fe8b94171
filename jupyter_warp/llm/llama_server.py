"""llama.cpp's own ``llama-server``: parallel slots and continuous batching on a CPU.

``llama-cpp-python[server]`` answers one request at a time, so a batch of requests sent
concurrently is still decoded one after another. ``llama-server`` decodes every busy slot
in one batch per token. It is built once from the llama.cpp source vendored in the
llama-cpp-python sdist (the same llama.cpp the Python package wraps), cached under
``cache_root()/bin/llama-server-<version>``, and started on loopback by
:func:`llama_server`, which always stops it.

Environment:

- ``JUPYTER_WARP_LLAMA_SERVER``: an existing ``llama-server`` binary to use instead.
- ``JUPYTER_WARP_BUILD_LLAMA_SERVER=0``: never build; a missing binary is an error
  (:class:`LlamaServerMissingError`), which tests turn into a skip.
- ``JUPYTER_WARP_CACHE``: the cache root (see :func:`jupyter_warp.llm._models.cache_root`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..errors import BackendError, BackendUnavailableError
from ._models import cache_root, smollm2_gguf

DEFAULT_VERSION = "0.3.36"
"""llama-cpp-python version whose vendored llama.cpp is built when none is installed."""
BINARY_ENV = "JUPYTER_WARP_LLAMA_SERVER"
BUILD_ENV = "JUPYTER_WARP_BUILD_LLAMA_SERVER"

CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary to cache
    "-DGGML_NATIVE=ON",  # tuned to this CPU; the cache is per machine
    "-DLLAMA_CURL=OFF",  # older versions: no libcurl-dev needed (newer ones ignore it)
    "-DLLAMA_OPENSSL=OFF",  # no libssl-dev needed: the server only listens on loopback
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",  # no npm build of the web UI
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # and no download of it: the server runs without one
)


class LlamaServerMissingError(BackendError):
    """No cached ``llama-server`` binary, and building one is disabled."""


def llama_cpp_version() -> str:
    """The installed llama-cpp-python's version, else :data:`DEFAULT_VERSION`."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        return DEFAULT_VERSION


def bin_dir() -> Path:
    return cache_root() / "bin"


def cached_binary(version: str | None = None) -> Path:
    """Where the binary built from llama-cpp-python ``version`` is cached."""
    return bin_dir() / f"llama-server-{version or llama_cpp_version()}"


def build_enabled() -> bool:
    """False when ``JUPYTER_WARP_BUILD_LLAMA_SERVER`` is ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get(BUILD_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def find_llama_server(version: str | None = None) -> Path | None:
    """``$JUPYTER_WARP_LLAMA_SERVER``, else the cached binary for ``version``, else None."""
    env = os.environ.get(BINARY_ENV)
    if env:
        path = Path(env).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LlamaServerMissingError(f"${BINARY_ENV} is {env}, which is not an executable file: fix or unset it")
        return path
    path = cached_binary(version)
    return path if path.is_file() and os.access(path, os.X_OK) else None


def ensure_llama_server(version: str | None = None, *, build: bool | None = None,
                        log: Callable[[str], None] | None = None, **build_options: Any) -> Path:
    """The ``llama-server`` binary, built and cached first if it is missing and building is enabled."""
    found = find_llama_server(version)
    if found:
        return found
    if not (build_enabled() if build is None else build):
        raise LlamaServerMissingError(
            f"no llama-server binary at {cached_binary(version)} and {BUILD_ENV}=0: build it with "
            "`python -m jupyter_warp.llm.llama_server build` (6 to 14 min on 2 cores, once) "
            f"or point ${BINARY_ENV} at one")
    return build_llama_server(version, log=log, **build_options)


def _say(log: Callable[[str], None] | None, text: str) -> None:
    (log or (lambda s: print(s, file=sys.stderr, flush=True)))(text)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _run_logged(cmd: Sequence[str], logfile: Path, *, cwd: Path | None = None, niceness: int = 0) -> None:
    """Run ``cmd`` with its output appended to ``logfile``; a failure raises with the log's tail."""
    with logfile.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n")
        out.flush()
        preexec = (lambda: os.nice(niceness)) if niceness and hasattr(os, "nice") else None
        code = subprocess.call([str(c) for c in cmd], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, preexec_fn=preexec)
    if code:
        raise BackendError(f"building llama-server failed: `{' '.join(map(str, cmd))}` exited with {code}; "
                           f"log {logfile}:\n{_tail(logfile)}")


def _unpack_source(source: Path, dest: Path) -> Path:
    """The llama.cpp folder of an sdist tarball or of an unpacked sdist / llama.cpp checkout."""
    if source.is_file():
        with tarfile.open(source) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                tar.extractall(dest)
        roots = [p for p in dest.iterdir() if p.is_dir()]
        source = roots[0] if len(roots) == 1 else dest
    for candidate in (source / "vendor" / "llama.cpp", source):
        if (candidate / "tools" / "server").is_dir() or (candidate / "examples" / "server").is_dir():
            return candidate
    raise BackendError(f"{source} holds no llama.cpp source (no tools/server folder)")


def build_llama_server(version: str | None = None, *, source: str | Path | None = None, jobs: int | None = None,
                       niceness: int = 19, log: Callable[[str], None] | None = None,
                       keep_build_dir: bool = False) -> Path:
    """Build ``llama-server`` from llama-cpp-python ``version``'s sdist and cache it.

    The sdist is fetched with pip (``pip download --no-binary :all: --no-deps``) unless
    ``source`` names an sdist tarball or an unpacked source folder. cmake and a C++17
    compiler are needed, nothing else (no curl, OpenSSL or npm). The compilers run under
    ``nice`` so other work on the machine keeps its CPU. Two processes asking at once
    build once: the second waits on a lock and then finds the binary.
    """
    version = version or llama_cpp_version()
    for tool in ("cmake", "c++"):
        if not shutil.which(tool):
            raise BackendError(f"building llama-server needs `{tool}`: install it (Debian: apt-get install cmake g++)")
    target = cached_binary(version)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.with_name(target.name + ".lock")
    with lock_path.open("w") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        if target.is_file():
            return target
        logfile = target.with_name(target.name + ".build.log")
        logfile.write_text("", encoding="utf-8")
        work = Path(tempfile.mkdtemp(prefix="llama-server-build-", dir=target.parent))
        started = time.monotonic()
        try:
            if source is None:
                _say(log, f"downloading the llama-cpp-python {version} sdist (log: {logfile})")
                _run_logged([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                             "--disable-pip-version-check", f"llama-cpp-python=={version}", "-d", work / "sdist"],
                            logfile)
                source = next((work / "sdist").glob("llama_cpp_python-*.tar.gz"))
            src = _unpack_source(Path(source), work / "src")
            build = work / "build"
            generator = ["-G", "Ninja"] if shutil.which("ninja") else []
            _say(log, f"building llama-server {version} with {jobs or os.cpu_count()} jobs under nice {niceness} "
                      f"(6 to 14 min on 2 cores; log: {logfile})")
            _run_logged(["cmake", "-S", src, "-B", build, *generator, *CMAKE_OPTIONS], logfile, niceness=niceness)
            _run_logged(["cmake", "--build", build, "--target", "llama-server", "-j", str(jobs or os.cpu_count() or 2)],
                        logfile, niceness=niceness)
            built = build / "bin" / "llama-server"
            if not built.is_file():
                raise BackendError(f"the build produced no {built}; log {logfile}")
            _run_logged([built, "--version"], logfile)
            partial = target.with_name(target.name + ".partial")
            shutil.copy2(built, partial)
            os.replace(partial, target)
            _point_latest(target)
            _say(log, f"llama-server {version} built in {time.monotonic() - started:.0f} s: {target}")
            return target
        finally:
            if not keep_build_dir:
                shutil.rmtree(work, ignore_errors=True)


def _point_latest(target: Path) -> None:
    """``bin/llama-server`` -> the binary just built, for people who want to run it by hand."""
    link = target.with_name("llama-server")
    with contextlib.suppress(OSError):
        if link.is_symlink() or not link.exists():
            tmp = link.with_name(link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(target.name)
            os.replace(tmp, link)


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the thread that started it dies, however it dies
    (even by SIGKILL), so no server outlives a killed test or bench. Elsewhere: nothing."""
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


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

    def log_tail(self, lines: int = 30) -> str:
        return _tail(self.log_path, lines)


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
                                              f"log {log_path}:\n{server.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(server.url + "/health", timeout=2, trust_env=False).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise BackendUnavailableError(f"llama-server did not answer /health within {startup_timeout:.0f} s; "
                                              f"log {log_path}:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
        clean = True
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(slot_dir, ignore_errors=True)
        if clean and own_log:
            log_path.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jupyter_warp.llm.llama_server build|path|serve``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m jupyter_warp.llm.llama_server", description=__doc__.split("\n")[0])
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
