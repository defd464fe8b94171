"""Parse and acceptance shares per state, read from run directories' step logs.

    .venv/bin/python bench/acceptance.py RUN_DIR [RUN_DIR ...]

``parsed``: the reply has its tags and (for search, init-plan, extend-plan) a JSON object
with an allowed action name, read as the engine reads it; ``accepted``: the engine took the
step (no error). Steps refused before a model call count in neither.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jupyter_warp.machine import Phase
from jupyter_warp.machine.reply import ActionError, parse_json_action, split_reply
from jupyter_warp.machine.stepper import STAGES
from jupyter_warp.runs import Run, find_runs


def parsed(state: str, text: str) -> bool:
    """Whether the engine can read an action of ``state`` out of ``text``."""
    try:
        reply = split_reply(text)
        if state != "write":
            parse_json_action(reply.action_text, STAGES[Phase(state)].actions, reply.closed)
        return reply.closed or state != "write"
    except (ActionError, ValueError):
        return False


def shares(run_dirs: list[Path]) -> dict[str, dict[str, int]]:
    """Per state: steps, parsed, accepted."""
    table: dict[str, Counter[str]] = {}
    for run_dir in run_dirs:
        for step in Run.load(run_dir).steps:
            row = table.setdefault(step.state, Counter())
            row["steps"] += 1
            row["parsed"] += parsed(step.state, step.reply)
            row["accepted"] += step.error is None
    return {state: dict(row) for state, row in table.items()}


def main(argv: list[str]) -> int:
    dirs = [d for arg in argv for d in find_runs(arg)]
    if not dirs:
        print("usage: bench/acceptance.py RUN_DIR...", file=sys.stderr)
        return 2
    print(f"{'state':<12} {'steps':>5} {'parsed':>12} {'accepted':>12}")
    total: Counter[str] = Counter()
    for state, row in sorted(shares(dirs).items()):
        total.update(row)
        print(f"{state:<12} {row['steps']:>5} {row['parsed']:>5} ({row['parsed'] / row['steps']:>4.0%}) "
              f"{row['accepted']:>5} ({row['accepted'] / row['steps']:>4.0%})")
    print(f"{'all':<12} {total['steps']:>5} {total['parsed']:>5} ({total['parsed'] / total['steps']:>4.0%}) "
          f"{total['accepted']:>5} ({total['accepted'] / total['steps']:>4.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
