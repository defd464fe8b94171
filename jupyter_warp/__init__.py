"""jupyter-warp: deep-research reports on local models over local files, written WARP-style.

Importing this package loads no model library (torch, vllm, llama_cpp); backends import
theirs when they are first used.
"""

from __future__ import annotations

from typing import Any

from .config import WarpConfig
from .errors import WarpError
from .records import ChatRequest, Completion, Passage, Step

__version__ = "0.1.0"

__all__ = ["WarpConfig", "WarpError", "Passage", "Step", "ChatRequest", "Completion", "__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt extension (``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "jupyter-warp"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_warp``: IPython loads the notebook layer's extension by name, so
    the engine itself never imports it."""
    ipython.extension_manager.load_extension("kernel_magics")


def unload_ipython_extension(ipython: Any) -> None:
    ipython.extension_manager.unload_extension("kernel_magics")
