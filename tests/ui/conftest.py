"""Browser-test fixtures: JupyterLab on loopback and Debian's Chromium through Playwright.

``lab`` starts ``jupyter lab`` once per test on 127.0.0.1 with a token, a temporary
root, config and data dirs, and the freshly built extension (``jupyter_warp/labextension``)
first on the labextensions path. No kernel can start there (no kernelspec is allowed), so
what a test sees comes from the saved notebook alone; ``lab_with_kernel`` is the same
with this environment's python3 kernel. ``page`` is a Chromium page and
``screenshot`` saves one; tests skip with a reason when Chromium, Playwright or the built
extension is missing.
"""

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
def run_lab(tmp_path: Path, kernels: bool):
    """``jupyter lab`` on loopback for one test; ``kernels=False`` allows no kernelspec."""
    if not (BUILT / "package.json").is_file():
        pytest.skip("the extension is not built (make, or pip install -e .)")
    root, ext = tmp_path / "root", tmp_path / "labextensions"
    root.mkdir()
    shutil.copytree(BUILT, ext / "jupyter-warp")
    home = tmp_path / "jupyter"
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
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
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def lab(tmp_path: Path):
    """JupyterLab where no kernel can start."""
    with run_lab(tmp_path, kernels=False) as server:
        yield server


@pytest.fixture
def lab_with_kernel(tmp_path: Path):
    """JupyterLab with this environment's python3 kernel."""
    with run_lab(tmp_path, kernels=True) as server:
        yield server


@pytest.fixture
def page():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


@pytest.fixture
def screenshot(tmp_path: Path):
    """``screenshot(page, name)``: a PNG in the test's tmp folder, copied to out/screenshots/."""

    def take(page, name: str) -> Path:
        shot = tmp_path / name
        page.screenshot(path=str(shot))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SCREENSHOTS / name)
        return shot

    return take
