"""Building llama.cpp's own ``llama-server`` once from the llama.cpp source vendored in the
llama-cpp-python sdist (the same llama.cpp the Python package wraps), cached under
``cache_root()/bin/llama-server-<version>``.

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
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import BackendError
from ..llm._models import cache_root

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
    """Where built ``llama-server`` binaries are cached."""
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
            "`python -m jupyter_warp.tools.llama_server build` (6 to 14 min on 2 cores, once) "
            f"or point ${BINARY_ENV} at one")
    return build_llama_server(version, log=log, **build_options)


def _say(log: Callable[[str], None] | None, text: str) -> None:
    (log or (lambda s: print(s, file=sys.stderr, flush=True)))(text)


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` of a log file, for error messages; empty when it cannot be read."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _run_logged(cmd: Sequence[str | Path], logfile: Path, *, cwd: Path | None = None, niceness: int = 0) -> None:
    """Run ``cmd`` with its output appended to ``logfile``; a failure raises with the log's tail."""
    with logfile.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n")
        out.flush()
        preexec = (lambda: os.nice(niceness)) if niceness and hasattr(os, "nice") else None
        code = subprocess.call([str(c) for c in cmd], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, preexec_fn=preexec)
    if code:
        raise BackendError(f"building llama-server failed: `{' '.join(map(str, cmd))}` exited with {code}; "
                           f"log {logfile}:\n{tail(logfile)}")


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
