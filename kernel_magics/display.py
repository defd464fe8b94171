"""Outputs that stay in the cell that made them, updated in place from any thread or cell.

A step-through run moves on in a worker thread (the Run button) or from later cells
(``warp.controller.step()``), but its outline, progress line and report belong to the
``%%warp`` cell. Front ends route an update by the request it answers: JupyterLab applies
``update_display_data`` to the outputs of the cell whose request it carries (so the update
must carry the ``%%warp`` cell's), while nbclient and papermill read only the messages of the
cell now running and apply a display id notebook-wide (so it must carry that one too). An
update is therefore sent in the context of the cell that made the output (ipykernel keeps
the request in a context variable) and, when another request is current, in that one's too.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

from .views import SPINNER, Clock

EMPTY: dict[str, Any] = {}
"""An output with nothing to show: JupyterLab renders nothing, nbconvert nothing."""


def _request_id() -> str | None:
    """The id of the request outputs are sent for in this context (None outside a kernel)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    header = getattr(getattr(shell, "display_pub", None), "parent_header", None)
    return header.get("msg_id") if isinstance(header, dict) else None


class CellDisplay:
    """One output of the cell being executed, replaced by ``update`` from anywhere."""

    def __init__(self, bundle: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        from IPython.display import display

        self.bundle = bundle
        self._home = contextvars.copy_context()
        self._home_request = _request_id()
        self._lock = threading.Lock()
        self._handle = display(bundle, raw=True, display_id=True, metadata=metadata or {})

    def update(self, bundle: dict[str, Any]) -> None:
        """Show ``bundle`` in place of what this output shows (nothing sent if it is the same)."""
        with self._lock:
            if bundle == self.bundle:
                return
            self.bundle = bundle
            if self._handle is None:
                return
            self._home.copy().run(self._send, bundle)
            if _request_id() != self._home_request:
                self._send(bundle)

    def clear(self) -> None:
        """Show nothing here any more (the output stays, empty)."""
        self.update(EMPTY)

    def _send(self, bundle: dict[str, Any]) -> None:
        assert self._handle is not None
        self._handle.update(bundle, raw=True)


class Ticker:
    """Redraws a line every ``interval`` seconds while something runs (a step, a model load):
    a spinner frame and the seconds elapsed. ``stop`` returns once the last tick is drawn."""

    def __init__(self, show: Callable[[str], None], interval: float = 0.5) -> None:
        self.show = show
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.clock = Clock()

    @property
    def running(self) -> bool:
        """Whether a line is ticking."""
        return self._thread is not None

    def start(self, line: Callable[[int, float], str]) -> None:
        """Show ``line(frame, seconds)`` now and at every tick until ``stop``."""
        self.stop()
        self.clock.reset()
        self._stop.clear()

        def tick() -> None:
            frame = 0
            while not self._stop.wait(self.interval):
                frame += 1
                try:
                    self.show(line(frame, self.clock()))
                except Exception:  # a display that went away must not kill the run
                    return

        self._thread = threading.Thread(target=tick, name="warp-ticker", daemon=True)
        self.show(line(0, 0.0))
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking (the last tick drawn before this returns)."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()


__all__ = ["CellDisplay", "Ticker", "EMPTY", "SPINNER"]
