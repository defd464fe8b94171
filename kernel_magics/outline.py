"""The outline tree widget: collapsible nodes, status and citations per node, the node's text
on click, and (when ``editable``) rename, re-plan, delete, lock and add.

State lives in synced traits: ``outline`` is the ``OUTLINE_MIME`` payload, ``selected`` a
position. The front end sends edits as custom messages; ``on_edit`` (the controller's
``edit``) applies them through ``Run.edit``. Displayed, a widget carries only its view and a
plain-text line: the static outline is an output of its own (``live.RunViews``), since
JupyterLab shows the widget view of a bundle that has both, and a saved notebook would then
show "Loading widget..." instead of the outline.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import traitlets

from jupyter_warp.errors import WarpError
from jupyter_warp.render import outline_text

STATIC = Path(__file__).parent / "static"
EDIT_FIELDS = ("title", "plan", "rewrite", "index")

EditHandler = Callable[..., Any]


class OutlineWidget(anywidget.AnyWidget):  # type: ignore[misc]
    """An interactive outline; ``outline`` is a ``jupyter_warp.mime`` outline payload."""

    _esm = STATIC / "outline.js"
    _css = STATIC / "outline.css"

    outline = traitlets.Dict(help="the OUTLINE_MIME payload").tag(sync=True)
    selected = traitlets.Unicode("", help="position of the node shown in the detail pane").tag(sync=True)
    editable = traitlets.Bool(False, help="show the edit controls").tag(sync=True)
    busy = traitlets.Bool(False, help="a step is running; edits wait for it").tag(sync=True)
    message = traitlets.Unicode("", help="the last edit's result, or its error").tag(sync=True)

    def __init__(self, outline: dict[str, Any] | None = None, *, on_edit: EditHandler | None = None,
                 errors: ipywidgets.Output | None = None, **kwargs: Any) -> None:
        super().__init__(outline=outline or {}, editable=on_edit is not None, **kwargs)
        self.on_edit = on_edit
        self.errors = errors if errors is not None else ipywidgets.Output()
        """Where a failing edit callback's traceback goes (a bug, not a user error)."""
        self.on_msg(self._handle_message)

    def _handle_message(self, _widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("event") != "edit":
            return
        self.request_edit(str(content.get("op", "")), content.get("position") or None,
                          **{k: content[k] for k in EDIT_FIELDS if k in content})

    def request_edit(self, op: str, position: str | None = None, **kwargs: Any) -> None:
        """What a click in the tree does: hand the edit to ``on_edit``, show the outcome."""
        if self.on_edit is None:
            self.message = "error: this outline is read-only"
            return
        try:
            result = self.on_edit(op, position, **kwargs)
        except WarpError as exc:
            self.message = f"error: {exc}"
            return
        except Exception as exc:  # a bug: keep the widget alive, keep the traceback
            self.message = f"error: {type(exc).__name__}: {exc}"
            self.errors.append_stderr(traceback.format_exc())
            return
        if op == "delete" and self.selected == position:
            self.selected = ""
        self.message = "; ".join(result) if isinstance(result, list) else (result or "")

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        data, metadata = split_bundle(super()._repr_mimebundle_(**kwargs))
        text = outline_text(self.outline) if self.outline.get("nodes") is not None else "WARP outline"  # type: ignore[arg-type]
        return {**data, "text/plain": text}, metadata


def widget_bundle(widget: Any) -> dict[str, Any]:
    """The controller's view as an output, with a line of text for viewers without widgets."""
    data, _ = split_bundle(widget._repr_mimebundle_())
    return {**data, "text/plain": "WARP run controls (shown while the run is live)"}


def split_bundle(bundle: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``_repr_mimebundle_`` returns ``data`` or ``(data, metadata)``, depending on the widget."""
    if isinstance(bundle, tuple):
        return dict(bundle[0]), dict(bundle[1] or {})
    return dict(bundle or {}), {}
