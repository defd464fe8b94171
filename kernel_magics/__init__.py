"""The notebook layer of jupyter-warp: ``%%warp``, ``%warp_index``, ``%warp_resume``,
``%warp_step``, the outline tree and step-through widgets, and the report as cells.

``%load_ext jupyter_warp`` (or ``%load_ext kernel_magics``) registers the magics, makes
``Warp`` configurable with ``%config``, and greets the JupyterLab extension over its comm.
"""

from __future__ import annotations

from typing import Any

from .cells import expand_notebook, expand_report_cells

__all__ = ["load_ipython_extension", "unload_ipython_extension", "warp_magics", "expand_report_cells",
           "expand_notebook"]


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics on ``ipython`` and open the comm to the frontend."""
    from traitlets import TraitError
    from traitlets.config import Config

    from .magics import Warp

    try:
        magics = Warp(shell=ipython, config=ipython.config)
    except TraitError:
        # A bad value in the shell's config (``%config`` keeps even a rejected one there):
        # keep the good settings, warn about the others.
        magics = Warp(shell=ipython, config=Config())
        for name, value in dict(ipython.config.get("Warp", {})).items():
            try:
                setattr(magics, name, value)
            except TraitError as exc:
                print(f"jupyter-warp: ignored a setting: {exc}")
    ipython.register_magics(magics)
    _register_formatters(ipython)
    ipython.configurables = [c for c in ipython.configurables if type(c).__name__ != "Warp"] + [magics]
    magics.link.open()


def _register_formatters(ipython: Any) -> None:
    """An ``EvalResult`` left as a cell's value shows as its notebook view (the engine has no HTML)."""
    from .evaluation import EvalView

    html = ipython.display_formatter.formatters["text/html"]
    html.for_type_by_name("jupyter_warp.evaluate.api", "EvalResult", lambda result: EvalView(result).html())


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext``: close the comm and drop the ``Warp`` configurable."""
    magics = ipython.magics_manager.registry.get("Warp")
    if magics is not None:
        magics.link.close()
    ipython.configurables = [c for c in ipython.configurables if type(c).__name__ != "Warp"]


def warp_magics(ipython: Any = None) -> Any:
    """The ``Warp`` magics registered on ``ipython`` (default: the running shell)."""
    if ipython is None:
        from IPython import get_ipython

        ipython = get_ipython()
    magics = ipython.magics_manager.registry.get("Warp") if ipython is not None else None
    if magics is None:
        from jupyter_warp.errors import ConfigError

        raise ConfigError("jupyter-warp is not loaded: run `%load_ext jupyter_warp` first")
    return magics
