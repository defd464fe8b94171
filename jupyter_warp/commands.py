"""The ``run`` and ``demo`` commands: build a config from arguments, step the run with a
progress bar, write the report, print one closing line."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .config import WarpConfig
from .errors import ConfigError
from .runs import Run

DEMO_QUESTION = (
    "How does Python handle exceptions, from the try statement and exception handlers "
    "to raising, chaining and cleaning up with finally and with?"
)
DEMO_BUDGET: dict[str, Any] = {
    "max_steps": 30,
    "max_extends": 1,
    "min_sections": 3,
    "max_sections": 4,
    "max_subsections": 3,
    "first_k": 8,
    "k": 5,
    "passage_max_chars": 500,
    "thought_max_chars": 160,
    "write_max_chars": 520,
    "seed": 0,
}


def _coerce(name: str, value: str) -> Any:
    types = {f.name: f.type for f in fields(WarpConfig)}
    if name not in types:
        raise ConfigError(f"unknown setting {name!r}; known: {', '.join(sorted(types))}")
    kind = str(types[name])
    if value.lower() == "none" and "None" in kind:
        return None
    try:
        if kind.startswith("bool"):
            if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("1", "true", "yes")
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
    except ValueError:
        raise ConfigError(f"--set {name}={value}: expected {kind.split(' ')[0]}") from None
    return value


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Settings named on the command line; unnamed ones stay as they are."""
    changes: dict[str, Any] = {}
    for item in args.set:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: use KEY=VALUE, e.g. --set k=5")
        key, value = item.split("=", 1)
        changes[key.strip()] = _coerce(key.strip(), value.strip())
    for name in ("index", "model", "max_steps", "max_extends"):
        if getattr(args, name, None) is not None:
            changes[name] = getattr(args, name)
    if args.no_grammar:
        changes["constrained"] = False
    return changes


def drive(run: Run, quiet: bool = False) -> Run:
    """Step a run to its end with a progress bar that shows the state and the counters."""
    bar = tqdm(total=run.state.config.max_steps, initial=run.state.step, disable=quiet, unit="step",
               desc="warp", file=sys.stderr, dynamic_ncols=True)

    def start(r: Run) -> None:
        bar.set_postfix_str(f"{r.state.state} {r.state.counters['searches']}s/{r.state.counters['extends']}e")

    def end(r: Run, step: Any) -> None:
        bar.update(1)
        if step.error:
            bar.write(f"step {step.index} ({step.state}): rejected: {step.error}")

    try:
        run.run(on_step_start=start, on_step_end=end)
    finally:
        bar.close()
    return run


def _finish(run: Run, out: str | None) -> None:
    paths = [run.save_report(out or run.dir / "report.md")]
    print(f"report: {', '.join(str(p) for p in paths)} (run dir {run.dir})")
    print(run.summary_line())


def run_command(args: argparse.Namespace) -> int:
    changes = overrides_from_args(args)
    if args.resume:
        if args.question:
            raise ConfigError("give either a QUESTION or --resume RUN_DIR, not both")
        run = Run.resume(args.resume, **changes)
        print(f"resuming {run.dir} at step {run.state.step} ({run.state.state})", file=sys.stderr)
    else:
        if not args.question or not args.question.strip():
            raise ConfigError('the research question is empty: jupyter-warp run "YOUR QUESTION" --index DIR')
        config = WarpConfig().replace(**changes)
        run = Run.create(args.question, config, run_dir=args.run_dir)
        _ = run.searcher
    drive(run, quiet=args.quiet)
    _finish(run, args.out)
    return 0 if run.state.status != "failed" else 1


def batch_command(args: argparse.Namespace) -> int:
    from .batch import load_questions, run_lockstep, run_papermill, summary_table

    if args.parallel < 1:
        raise ConfigError(f"--parallel must be at least 1, got {args.parallel}")
    config = WarpConfig().replace(**overrides_from_args(args))
    loaded = load_questions(args.questions)
    bar = tqdm(total=len(loaded.questions), disable=args.quiet, unit="question", desc="batch", file=sys.stderr)
    if args.lockstep:
        bar.reset(total=config.max_steps)
        bar.unit = "round"

        def on_step(rounds: int, running: int) -> None:
            bar.update(1)
            bar.set_postfix_str(f"{running} running")

        rows = run_lockstep(loaded.questions, config, args.out_dir, on_step=on_step)
    else:
        rows = run_papermill(loaded.questions, config, args.out_dir, template=args.notebook, parallel=args.parallel,
                             kernel_name=args.kernel, on_done=lambda r: bar.update(1))
    bar.close()
    rows = loaded.problems + rows
    print(summary_table(rows))
    (Path(args.out_dir) / "summary.json").parent.mkdir(parents=True, exist_ok=True)
    (Path(args.out_dir) / "summary.json").write_text(json.dumps([r.to_dict() for r in rows], indent=1), encoding="utf-8")
    return 0 if all(r.status in ("done", "skipped") for r in rows) else 1


def demo_command(args: argparse.Namespace) -> int:
    """Index the CPython language reference and write a report on it with the embedded model."""
    from .corpus import build_index
    from .corpus.samples import export_pydoc_topics

    out = Path(args.out_dir)
    started = time.time()
    corpus = out / "corpus"
    export_pydoc_topics(corpus)
    summary = build_index([corpus], out / "index", progress=not args.quiet)
    print(f"indexed {corpus}: {summary}")
    changes = {**DEMO_BUDGET, "index": str(out / "index"), **overrides_from_args(args)}
    config = WarpConfig().replace(**changes)
    print("budget: " + ", ".join(f"{k}={getattr(config, k)}" for k in DEMO_BUDGET) +
          f", model={config.model} (override with --max-steps N, --set KEY=VALUE, --model SPEC)")
    run_dir = out / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run = Run.create(args.question or DEMO_QUESTION, config, run_dir=run_dir)
    drive(run, quiet=args.quiet)
    md = run.save_report(out / "report.md")
    nb = run.save_report(out / "report.ipynb")
    print(f"report: {md}, {nb}")
    print(run.summary_line() + f"; total with indexing {time.time() - started:.1f} s")
    return 0 if run.state.status != "failed" else 1
