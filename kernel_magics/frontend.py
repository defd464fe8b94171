"""The kernel's side of the comm with the JupyterLab extension (protocol in ``jupyter_warp.mime``).

``hello`` is sent when the comm opens (at ``%load_ext``); the extension answers
``hello-ack``. JupyterLab without the extension closes a comm to a target it does not
know, and a headless client (nbclient, papermill) answers nothing, so the link tells the
three apart. ipykernel reads the answer between cells; payloads sent before it arrives
wait in ``pending`` and go out with the acknowledgement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jupyter_warp.mime import COMM_TARGET, FORMAT_VERSION

log = logging.getLogger(__name__)

LIVE, NO_EXTENSION, UNKNOWN = "live", "no-extension", "unknown"


class FrontendLink:
    """One comm to the notebook frontend; ``mode`` says what can be done with it."""

    def __init__(self) -> None:
        self.comm: Any = None
        self.acked = False
        self.closed = False
        self.version: int | None = None
        self.pending: list[dict[str, Any]] = []
        self.inserted: dict[str, int] = {}
        """``run_id`` -> cells the extension reported inserting."""
        self.errors: dict[str, str] = {}
        self.on_inserted: list[Callable[[str, int, str | None], None]] = []

    def open(self) -> None:
        """Open the comm (again): a new kernel, or a restarted one, greets the frontend anew."""
        import comm

        self.acked, self.closed = False, False
        try:
            self.comm = comm.create_comm(target_name=COMM_TARGET, data={"action": "hello", "version": FORMAT_VERSION})
        except Exception as exc:  # a kernel without comms: no frontend to talk to
            log.debug("jupyter-warp: no comm (%s)", exc)
            self.comm = None
            return
        if isinstance(self.comm, comm.DummyComm):  # plain IPython, no kernel: no frontend at all
            self.comm = None
            return
        self.comm.on_msg(self._on_msg)
        self.comm.on_close(self._on_close)

    @property
    def mode(self) -> str:
        """``live`` (the extension answered), ``no-extension`` (the frontend refused the comm)
        or ``unknown`` (no answer yet: headless, or the answer is still queued)."""
        if self.acked and not self.closed:
            return LIVE
        if self.closed:
            return NO_EXTENSION
        return UNKNOWN

    def insert_cells(self, payload: dict[str, Any]) -> str:
        """Ask the extension to insert ``payload``'s cells: ``sent``, ``queued`` or ``impossible``."""
        message = {"action": "insert-cells", "payload": payload}
        if self.mode == LIVE:
            self.comm.send(message)
            return "sent"
        if self.mode == UNKNOWN and self.comm is not None:
            self.pending.append(message)
            return "queued"
        return "impossible"

    # Messages from the frontend.
    def _on_msg(self, msg: dict[str, Any]) -> None:
        data = (msg.get("content") or {}).get("data") or {}
        action = data.get("action")
        if action == "hello-ack":
            self.acked, self.version = True, data.get("version")
            pending, self.pending = self.pending, []
            for message in pending:
                self.comm.send(message)
        elif action == "inserted":
            run_id, count, error = data.get("run_id") or "", int(data.get("count") or 0), data.get("error")
            self.inserted[run_id] = self.inserted.get(run_id, 0) + count
            if error:
                self.errors[run_id] = str(error)
            for callback in list(self.on_inserted):
                try:
                    callback(run_id, count, error)
                except Exception:  # a callback must not break the comm
                    log.exception("jupyter-warp: inserted callback failed")

    def _on_close(self, msg: dict[str, Any]) -> None:
        self.closed = True
        self.pending = []

    def close(self) -> None:
        """Close the comm, once; a comm the frontend already closed is left alone."""
        if self.comm is not None and not self.closed:
            try:
                self.comm.close()
            except Exception:
                pass
        self.closed = True
