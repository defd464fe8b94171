"""Helpers shared by the notebook-layer tests (no tests here): a real InteractiveShell with the
extension loaded, scripted backends, a comm that records what the kernel sends, captured outputs."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from comm.base_comm import BaseComm
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from jupyter_warp.config import WarpConfig
from jupyter_warp.records import ChatRequest, Completion
from jupyter_warp.runs import Run
from scripted import MemorySearcher, ScriptedBackend, plan, reply, shown_keys


def question_script(title: str = "Report", sections: int = 3, extend: dict | None = None):
    """Valid replies for every state, searching words any small corpus about Python has."""
    extended: list[int] = []

    def script(request: ChatRequest) -> str:
        p = request.prompt
        if "You are the searcher" in p:
            return reply({"name": "search", "keywords": ["exception", "try statement"]}, thought="look for evidence")
        if "You are the planner" in p:
            return reply(plan(sections, title), thought="three parts")
        if "You are the writer" in p:
            keys = shown_keys(p)
            return reply("A section body long enough to pass the checks, "
                         f"citing evidence [{keys[0]}] and [{keys[-1]}].", thought="write it")
        if extend and not extended:
            extended.append(1)
            return reply(extend, thought="deepen")
        return reply({"name": "nop"}, thought="complete")

    return script


def make_run(tmp_path: Any, backend: Any = None, name: str = "r", **config: Any) -> Run:
    """A run of "What is alpha?" on a scripted backend and an in-memory corpus, no deepening."""
    config.setdefault("max_extends", 0)
    return Run.create("What is alpha?", WarpConfig(**config), run_dir=tmp_path / name,
                      backend=backend or ScriptedBackend(question_script()), searcher=MemorySearcher())


class GatedBackend(ScriptedBackend):
    """Each generate call waits until the test opens the gate: a step that is 'in progress'."""

    def __init__(self, script) -> None:
        super().__init__(script)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        self.entered.set()
        assert self.gate.wait(10), "the test never opened the gate"
        return super().generate(requests)


class RecordingComm(BaseComm):
    """A comm that keeps what the kernel sends instead of publishing it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent: list[dict[str, Any]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any
    ) -> None:
        self.sent.append({"msg_type": msg_type, "data": data})

    def answer(self, data: dict[str, Any]) -> None:
        """What the frontend says back."""
        self.handle_msg({"content": {"comm_id": self.comm_id, "data": data}})

    def refuse(self) -> None:
        """JupyterLab without the extension closes a comm to an unknown target."""
        self.handle_close({"content": {"comm_id": self.comm_id, "data": {}}})


_shell: InteractiveShell | None = None


def get_shell() -> InteractiveShell:
    global _shell
    if _shell is None:
        _shell = InteractiveShell.instance()
    return _shell


def run(shell: InteractiveShell, source: str) -> tuple[Any, Any]:
    """Run a cell; returns (ExecutionResult, captured output)."""
    with capture_output() as cap:
        result = shell.run_cell(source)
    return result, cap


def bundles(cap: Any) -> list[dict[str, Any]]:
    return [o.data for o in cap.outputs]


def updates(cap: Any) -> list[dict[str, Any]]:
    return [o.data for o in cap.outputs if getattr(o, "update", False)]


def final_outputs(cap: Any) -> list[dict[str, Any]]:
    """The cell's outputs as a notebook keeps them: each display replaced by its last update
    (as nbclient and JupyterLab apply ``display_id`` updates), in the order first shown."""
    shown: list[dict[str, Any]] = []
    where: dict[str, list[int]] = {}
    for o in cap.outputs:
        display_id = (o.transient or {}).get("display_id")
        if getattr(o, "update", False):
            for i in where.get(display_id, []):
                shown[i] = o.data
            continue
        if display_id:
            where.setdefault(display_id, []).append(len(shown))
        shown.append(o.data)
    return shown


def texts(outputs: list[dict[str, Any]]) -> list[str]:
    return [o.get("text/plain", "") for o in outputs]
