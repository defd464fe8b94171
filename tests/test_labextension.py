"""The JupyterLab extension agrees with the Python package, and its bundle is not stale.

``labextension/src/tokens.ts`` repeats the constants of ``jupyter_warp.mime``; the built
bundle (``jupyter_warp/labextension``, shipped to ``share/jupyter/labextensions``) must come
from the current sources, or JupyterLab silently runs an old extension.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_warp import mime

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "labextension"
BUILT = ROOT / "jupyter_warp" / "labextension"
NAME = "jupyter-warp"

# `export const NAME = 'text';` or `export const NAME = 12;`, one per line.
CONST_RE = re.compile(r"^export const ([A-Z][A-Z0-9_]*) = (?:'((?:[^'\\]|\\.)*)'|(\d+));$", re.M)


def ts_constants() -> dict[str, str | int]:
    text = (SOURCE / "src" / "tokens.ts").read_text(encoding="utf-8")
    return {name: int(number) if number else string for name, string, number in CONST_RE.findall(text)}


def mime_constants() -> dict[str, str | int]:
    return {
        name: value
        for name, value in vars(mime).items()
        if name.isupper() and isinstance(value, (str, int)) and not isinstance(value, bool)
    }


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def source_files() -> list[Path]:
    """What a bundle is built from: the TypeScript, the styles and the settings schema."""
    files = [SOURCE / "package.json"]
    for folder in ("src", "style", "schema"):
        files += [p for p in (SOURCE / folder).rglob("*") if p.is_file() and "__tests__" not in p.parts]
    return files


def newest_mtime(folder: Path) -> float:
    return max(p.stat().st_mtime for p in folder.rglob("*") if p.is_file())


def test_tokens_ts_repeats_every_mime_constant():
    expected = mime_constants()
    assert set(expected) >= {"OUTLINE_MIME", "CELLS_MIME", "COMM_TARGET", "INSERT_COMMAND"}
    found = ts_constants()
    assert {name: found.get(name) for name in expected} == expected


def test_package_json_version_matches_pyproject():
    assert read_json(SOURCE / "package.json")["version"] == pyproject()["project"]["version"]


def test_lock_file_matches_package_json():
    package = read_json(SOURCE / "package.json")
    lock = read_json(SOURCE / "package-lock.json")
    assert lock["name"] == package["name"] == NAME
    assert lock["version"] == package["version"]
    root = lock["packages"][""]
    assert root["dependencies"] == package["dependencies"]
    assert root["devDependencies"] == package["devDependencies"]


def test_package_names_both_entry_points_and_builds_into_the_python_package():
    lab = read_json(SOURCE / "package.json")["jupyterlab"]
    assert lab["extension"] == "lib/index.js"
    assert lab["mimeExtension"] == "lib/mime.js"
    assert (SOURCE / lab["outputDir"]).resolve() == BUILT
    shared = pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared["jupyter_warp/labextension"] == f"share/jupyter/labextensions/{NAME}"


def test_schema_places_the_insert_command():
    schema = read_json(SOURCE / "schema" / "plugin.json")
    menus = schema["jupyter.lab.menus"]
    commands = [item.get("command") for menu in menus["main"] for item in menu["items"]]
    commands += [item["command"] for item in menus["context"]]
    assert commands.count(mime.INSERT_COMMAND) == 2


def check_bundle(folder: Path) -> None:
    built = read_json(folder / "package.json")
    assert built["name"] == NAME
    assert built["version"] == read_json(SOURCE / "package.json")["version"], f"{folder} is another version"
    assert (folder / built["jupyterlab"]["_build"]["load"]).is_file(), f"{folder} lacks its remoteEntry"


def test_built_bundle_is_current():
    if not (BUILT / "package.json").is_file():
        pytest.skip("the extension is not built (make, or pip install -e .)")
    check_bundle(BUILT)
    stale = [str(p.relative_to(ROOT)) for p in source_files() if p.stat().st_mtime > newest_mtime(BUILT)]
    assert not stale, f"sources newer than the bundle in {BUILT} (rebuild: make): {stale}"


def test_installed_extension_is_the_built_one():
    """A copy in share/jupyter/labextensions is what JupyterLab loads: it must be this build."""
    from jupyter_core.paths import jupyter_path

    installed = [Path(p) / NAME for p in jupyter_path("labextensions") if (Path(p) / NAME / "package.json").is_file()]
    if not installed:
        pytest.skip(f"{NAME} is not installed in any labextensions path")
    if not (BUILT / "package.json").is_file():
        pytest.skip("the extension is not built here, nothing to compare with")
    load = read_json(BUILT / "package.json")["jupyterlab"]["_build"]["load"]
    for folder in installed:
        check_bundle(folder)
        # The remoteEntry name carries a content hash: another name is another build.
        assert read_json(folder / "package.json")["jupyterlab"]["_build"]["load"] == load, (
            f"{folder} holds an older build: reinstall (pip install -e .) or "
            "link it (jupyter labextension develop --overwrite .)"
        )


def test_jupyterlab_lists_the_built_extension_enabled_and_compatible(tmp_path):
    """`jupyter labextension list` flags an extension whose @jupyterlab ranges miss this Lab."""
    if not (BUILT / "package.json").is_file():
        pytest.skip("the extension is not built (make, or pip install -e .)")
    shutil.copytree(BUILT, tmp_path / "labextensions" / NAME)
    env = dict(os.environ, JUPYTER_PATH=str(tmp_path), NO_COLOR="1")
    listing = subprocess.run(
        [sys.executable, "-m", "jupyterlab.labextensions", "list"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    version = read_json(SOURCE / "package.json")["version"]
    assert re.search(rf"{NAME} v{re.escape(version)} enabled\s+OK", text), text


def _ts_fields(interface: str) -> set[str]:
    source = (SOURCE / "src" / "tokens.ts").read_text()
    body = re.search(r"export interface " + interface + r" \{(.*?)\n\}", source, re.DOTALL).group(1)
    return set(re.findall(r"^  (\w+)\??:", body, re.MULTILINE))


def test_snapshot_types_mirror_tokens_ts():
    """The engine's typed snapshot and the extension's interfaces name the same fields."""
    from jupyter_warp import render

    for py, ts in [(render.Outline, "IOutline"), (render.OutlineNode, "IOutlineNode"),
                   (render.CellsPayload, "ICellsPayload"), (render.ReportCell, "IReportCell")]:
        assert set(py.__annotations__) == _ts_fields(ts), ts
