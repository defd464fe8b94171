"""Engine overhead per WARP step, without the model.

Part 1 runs a 140-step loop against an instant scripted backend and an in-memory searcher
and prints ``engine_ms_per_step`` (median time a step spends in the engine: prompt
rendering, token budgeting, parsing, validation, report edits, checkpoint). Part 2 reads
the step log of a run on a real backend (the demo's, by default) and prints
``engine_share_of_wall``: the share of wall time not spent waiting for the model.

    python bench/overhead.py [--run-dir out/demo/run]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from jupyter_warp.config import WarpConfig
from jupyter_warp.runs import Run
from scripted import MemorySearcher, ScriptedBackend, reply, shown_keys


def busy_script(request):  # type: ignore[no-untyped-def]
    """Valid replies that keep the loop going: 12 sections, then 7 subsections per extend."""
    p = request.prompt
    if "You are the searcher" in p:
        return reply({"name": "search", "keywords": ["alpha", "beta", "gamma"]})
    if "You are the planner" in p:
        return reply({"name": "init-plan", "title": "Bench",
                      "sections": [{"title": f"Section {i}", "plan": f"plan {i}"} for i in range(12)]})
    if "You are the writer" in p:
        keys = shown_keys(p)
        body = "A paragraph of findings that is long enough to pass validation " * 4
        return reply(body + f"[{keys[0]}][{keys[-1]}].")
    position = p.split("the sections that may be split are: ")[1].split(",")[0].split(". ")[0].strip()
    return reply({"name": "extend-plan", "position": position,
                  "subsections": [{"title": f"Sub {i}", "plan": f"deeper {i}"} for i in range(7)]})


def engine_ms_per_step(steps: int = 140) -> tuple[float, int]:
    backend = ScriptedBackend(busy_script)
    with tempfile.TemporaryDirectory() as tmp:
        run = Run.create("How do alpha, beta and gamma interact?", WarpConfig(max_steps=steps, max_extends=20),
                         run_dir=Path(tmp) / "run", backend=backend, searcher=MemorySearcher(per_query=8, text_len=60))
        times = []
        while not run.done:
            t0 = time.perf_counter()
            step = run.step()
            if step is None:
                break
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times), len(times)


def share_of_wall(run_dir: Path) -> tuple[float, float, int] | None:
    log = run_dir / "steps.jsonl"
    if not log.is_file():
        return None
    steps = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    wall = sum(s["ended_at"] - s["started_at"] for s in steps)
    model = sum(s["latency_s"] for s in steps)
    return (wall - model) / wall if wall else 0.0, wall, len(steps)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", default="out/demo/run", help="a run on a real backend (default: the demo's)")
    args = parser.parse_args()
    ms, n = engine_ms_per_step()
    print(f"steps: {n}")
    print(f"engine_ms_per_step: {ms:.3f}")
    measured = share_of_wall(Path(args.run_dir))
    if measured is None:
        print(f"engine_share_of_wall: n/a (no step log at {args.run_dir}; run `make demo` first)")
    else:
        share, wall, count = measured
        print(f"real_run_steps: {count}")
        print(f"real_run_wall_s: {wall:.1f}")
        print(f"engine_share_of_wall: {share:.4f}")


if __name__ == "__main__":
    main()
