"""The layer rules of DESIGN.md's architecture, read from the imports of every module.

- The engine (``jupyter_warp``) never imports IPython, widgets, ``kernel_magics`` or the
  command line (``jupyter_warp.cli`` and ``jupyter_warp.evaluate.cli``, which only the
  command line itself is).
- The notebook layer (``kernel_magics``) never imports the command line, and never opens a
  backend itself: it names a model, the run driver opens it (no ``jupyter_warp.llm``).
- ``corpus`` and ``llm`` are leaves: besides themselves they import only the shared
  vocabulary (``jupyter_warp.records``, ``jupyter_warp.errors``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_LIBS = ("IPython", "ipywidgets", "anywidget", "comm", "ipykernel", "kernel_magics")
SHARED = ("jupyter_warp.records", "jupyter_warp.errors")
CLI = ("jupyter_warp.cli", "jupyter_warp.evaluate.cli")
"""The command line: the main command and the eval/export commands it dispatches to."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved, at any depth of the file."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names}
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = (),
               skip: tuple[str, ...] = ()) -> list[str]:
    out = []
    for path in modules(package):
        if within(module_name(path), skip):
            continue
        for name in sorted(imports(path)):
            if within(name, forbidden) and not within(name, allowed):
                out.append(f"{path.relative_to(ROOT)} imports {name}")
    return out


def test_the_engine_imports_no_notebook_layer_and_no_cli():
    assert violations("jupyter_warp", NOTEBOOK_LIBS + CLI, skip=CLI) == []


def test_the_notebook_layer_never_imports_the_cli_nor_opens_a_backend():
    assert violations("kernel_magics", CLI + ("jupyter_warp.llm",)) == []


@pytest.mark.parametrize("leaf", ["jupyter_warp.corpus", "jupyter_warp.llm"])
def test_corpus_and_llm_are_leaves(leaf):
    assert violations(leaf, ("jupyter_warp",), allowed=(leaf,) + SHARED) == []


def test_the_rules_catch_what_they_forbid(tmp_path, monkeypatch):
    """A module that breaks each rule is found (so the tests above can fail)."""
    bad = ROOT / "jupyter_warp" / "corpus" / "_layer_probe.py"
    bad.write_text("from ..runs import Run\nfrom IPython import display\n")
    try:
        assert violations("jupyter_warp.corpus", ("jupyter_warp",), allowed=("jupyter_warp.corpus",) + SHARED) == [
            "jupyter_warp/corpus/_layer_probe.py imports jupyter_warp.runs",
            "jupyter_warp/corpus/_layer_probe.py imports jupyter_warp.runs.Run"]
        assert "jupyter_warp/corpus/_layer_probe.py imports IPython" in violations("jupyter_warp", NOTEBOOK_LIBS)
    finally:
        bad.unlink()


def test_load_ext_jupyter_warp_still_registers_the_magics():
    code = ("from IPython.testing.globalipapp import start_ipython; ip = start_ipython(); "
            "ip.run_line_magic('load_ext', 'jupyter_warp'); "
            "print('warp' in ip.magics_manager.magics['cell'], 'warp_resume' in ip.magics_manager.magics['line'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.split()[-2:] == ["True", "True"], out.stderr


def test_importing_the_engine_loads_no_model_or_notebook_library():
    code = ("import sys, jupyter_warp, jupyter_warp.runs, jupyter_warp.batch, jupyter_warp.cli; "
            "print(sorted(m for m in ('torch', 'vllm', 'llama_cpp', 'IPython', 'ipywidgets', 'kernel_magics') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
