"""``jupyter-warp`` in processes of their own with a slow scripted model, for tests that kill
a run with ``kill -9`` or race two processes on one run directory.

    python tests/step_worker.py run --resume DIR --quiet      # one command, then exit
    python tests/step_worker.py --fork-server                 # imports once, forks one process per command

A fork server saves each process the seconds of imports: it reads JSON lines on stdin,
``{"args": [...], "log": PATH, "env": {...}}`` forks a process that runs
``jupyter-warp ARGS`` (its output to ``PATH``) and answers ``{"pid": N}``;
``{"wait": N}`` reaps that process and answers ``{"status": CODE}`` (``-9`` when killed).

The ``slow`` backend answers every state validly (``scripted.good_script``, one deepening
round), after ``WARP_TEST_DELAY`` seconds a call, with ``WARP_TEST_PAD`` characters of
padding in each thought so that a step's line is large and its append takes a while.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from jupyter_warp.cli import main
from jupyter_warp.llm.registry import registry
from jupyter_warp.records import ChatRequest, Completion
from scripted import ScriptedBackend, good_script

EXTEND = {"name": "extend-plan", "position": "section-1",
          "subsections": [{"title": "A", "plan": "a"}, {"title": "B", "plan": "b"}]}


class SlowBackend(ScriptedBackend):
    """A scripted model that takes its time and pads its thoughts."""

    def __init__(self, delay: float, pad: int) -> None:
        script = good_script(EXTEND)
        super().__init__(lambda r: script(r).replace("<thought>reasoning", "<thought>reasoning " + "x" * pad, 1))
        self.delay = delay

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        time.sleep(self.delay)
        return super().generate(requests)


def slow(target: str | None = None, **options: object) -> SlowBackend:
    return SlowBackend(float(os.environ.get("WARP_TEST_DELAY", "0.05")), int(os.environ.get("WARP_TEST_PAD", "0")))


def serve() -> None:
    """The fork server's loop (see the module's docstring)."""
    for line in sys.stdin:
        command = json.loads(line)
        if "wait" in command:
            _, status = os.waitpid(command["wait"], 0)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            answer = {"status": code}
        else:
            pid = os.fork()
            if pid == 0:
                log = os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.environ.update(command.get("env", {}))
                try:
                    code = main(command["args"])
                except BaseException:
                    traceback.print_exc()
                    code = 1
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
            answer = {"pid": pid}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    registry.register("slow", slow)
    if sys.argv[1:] == ["--fork-server"]:
        serve()
    else:
        sys.exit(main(sys.argv[1:]))
