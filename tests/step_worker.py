"""``jupyter-warp`` in a process of its own with a slow scripted model, for tests that kill a
run with ``kill -9`` or race two processes on one run directory.

    python tests/step_worker.py run "QUESTION" --model slow --index IX --run-dir DIR --quiet
    python tests/step_worker.py run --resume DIR --quiet

The ``slow`` backend answers every state validly (``scripted.good_script``, one deepening
round), after ``WARP_TEST_DELAY`` seconds a call, with ``WARP_TEST_PAD`` characters of
padding in each thought so that a step's line is large and its append takes a while.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from scripted import ScriptedBackend, good_script

from jupyter_warp.cli import main
from jupyter_warp.llm.registry import registry
from jupyter_warp.records import ChatRequest, Completion

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


if __name__ == "__main__":
    registry.register("slow", slow)
    sys.exit(main(sys.argv[1:]))
