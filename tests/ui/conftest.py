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

import shutil
from pathlib import Path

import pytest
from labserver import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, run_lab


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
