"""jupyter-warp: deep-research reports on local models over local files, written WARP-style.

Importing this package loads no model library (torch, vllm, llama_cpp); backends import
theirs when they are first used.
"""

from __future__ import annotations

from .config import WarpConfig
from .errors import WarpError
from .records import Completion, ChatRequest, Passage, Step

__version__ = "0.1.0"

__all__ = ["WarpConfig", "WarpError", "Passage", "Step", "ChatRequest", "Completion", "__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt extension (``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "jupyter-warp"}]


def load_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    """``%load_ext jupyter_warp`` registers the magics from the notebook layer."""
    from kernel_magics import load_ipython_extension as load

    load(ipython)
