"""JupyterLab on loopback for the browser tests: a temporary root, config and data dirs, a
token, and the freshly built extension first on the labextensions path."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_warp.tools.llama_server import stop_process

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "jupyter_warp" / "labextension"
SCREENSHOTS = ROOT / "out" / "screenshots"
CHROMIUM = os.environ.get("WARP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 60


@dataclass
class Lab:
    url: str
    token: str
    root: Path

    def doc_url(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, token: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"jupyter lab did not answer in {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


@contextmanager
def run_lab(tmp_path: Path, kernels: bool, extension: bool = True, env_extra: dict[str, str] | None = None,
            prepare=None):
    """``jupyter lab`` on loopback for one test; ``kernels=False`` allows no kernelspec,
    ``extension=False`` runs it without this project's extension, ``prepare(root)`` writes
    the documents before the server starts."""
    if extension and not (BUILT / "package.json").is_file():
        pytest.skip("the extension is not built (make, or pip install -e .)")
    root, ext = tmp_path / "root", tmp_path / "labextensions"
    root.mkdir()
    if prepare:
        prepare(root)
    ext.mkdir()
    if extension:
        shutil.copytree(BUILT, ext / "jupyter-warp")
    home = tmp_path / "jupyter"
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        **(env_extra or {}),
    )
    # No news prompt in the screenshots.
    notification = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyter-lab.log"
    args = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.extra_labextensions_path={ext}",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    if not kernels:
        # No kernelspec matches: nothing the page shows can come from a kernel.
        args.append("--KernelSpecManager.allowed_kernelspecs=jupyter-warp-no-kernel")
    if os.geteuid() == 0:  # CI containers run as root
        args.append("--allow-root")
    with log.open("w") as out:
        proc = subprocess.Popen(args, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, token, proc, log)
        yield Lab(url=url, token=token, root=root)
    finally:
        stop_process(proc)
