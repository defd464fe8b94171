"""``jupyter-warp index|search|run|batch|demo|eval|export``: argument parsing, a dispatch table, and the
terminal's display (a progress bar, one closing line). The work is the run driver's."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import WarpConfig
from .corpus import RETRIEVALS
from .errors import ConfigError, WarpError
from .options import add_config_arguments, overrides
from .records import Step
from .render import Snapshot
from .runs import Run, RunHooks, check_outputs, open_run, resume_hint


@dataclass
class Command:
    """One subcommand: its help line, how it adds its options, and what runs it."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    main: Callable[[argparse.Namespace], int]


# index, search.
def _index_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--index", default=".warp/index", help="index folder (default: .warp/index)")
    p.add_argument("--max-file-mb", type=float, default=50, help="skip files larger than this (default 50)")
    p.add_argument("--max-text-mb", type=float, default=20,
                   help="skip a DOCX whose XML expands past this, stop a PDF's text here (default 20)")
    p.add_argument("--max-pdf-pages", type=int, default=2000,
                   help="read at most this many pages of a PDF (default 2000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--embed", action="store_true",
                   help="also embed the passages for dense and hybrid search "
                        "(needs jupyter-warp[semantic]; kept current afterwards)")
    p.add_argument("--embed-model", metavar="MODEL",
                   help="sentence-transformers folder or cached model id "
                        "(default: the bundled all-MiniLM-L6-v2); implies --embed")


def _index(args: argparse.Namespace) -> int:
    from .corpus.commands import index_command

    return index_command(args.paths, args.index, quiet=args.quiet, max_file_mb=args.max_file_mb,
                         max_text_mb=args.max_text_mb, max_pdf_pages=args.max_pdf_pages, embed=args.embed,
                         embed_model=args.embed_model)


def _search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("query")
    p.add_argument("--index", default=".warp/index")
    p.add_argument("-k", type=int, default=10, help="passages to print (default 10)")
    p.add_argument("--mode", choices=RETRIEVALS, default="auto",
                   help="auto (default): hybrid where the index has vectors and jupyter-warp[semantic] "
                        "is installed, else bm25")


def _search(args: argparse.Namespace) -> int:
    from .corpus.commands import search_command

    return search_command(args.query, args.index, k=args.k, mode=args.mode)


# run, demo.
def _drive(run: Run, outputs: list[Path], quiet: bool) -> int:
    """Step to the end under a progress bar (phase, counters, each rejected reply), then
    write the report and print one closing line."""
    from tqdm.auto import tqdm

    bar = tqdm(total=run.config.max_steps, initial=run.state.step, disable=quiet, unit="step", desc="warp",
               file=sys.stderr, dynamic_ncols=True)

    def start(r: Run) -> None:
        bar.set_postfix_str(f"{r.state.state} {r.state.counters['searches']}s/{r.state.counters['extends']}e")

    def end(r: Run, step: Step, _: Snapshot) -> None:
        bar.update(1)
        if step.error:
            bar.write(f"step {step.index} ({step.state}): rejected: {step.error}")

    try:
        run.run(hooks=RunHooks(on_step_start=start, on_step=end))
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted: {resume_hint(run.dir)}", file=sys.stderr)
        return 130
    finally:
        bar.close()
    result = run.finish(outputs)
    print(f"report: {', '.join(str(p) for p in result.reports)} (run dir {result.run_dir})")
    print(result.summary)
    return 1 if result.status == "failed" else 0


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", nargs="?", help="the research question")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run; no completed step is redone")
    p.add_argument("--out", help="write the report here (.md or .ipynb; default RUN_DIR/report.md)")
    p.add_argument("--run-dir", help="where the run's state lives (default .warp/runs/<id>); an existing run "
                                     "of the same question there is continued")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_arguments(p)


def _run(args: argparse.Namespace) -> int:
    if args.resume and args.question:
        raise ConfigError("give either a QUESTION or --resume RUN_DIR, not both")
    if not args.resume and not (args.question or "").strip():
        raise ConfigError('the research question is empty: jupyter-warp run "YOUR QUESTION" --index DIR')
    outputs = check_outputs([args.out]) if args.out else []  # before the run, not after it
    run = open_run(args.question, run_dir=args.resume or args.run_dir, overrides=overrides(args))
    if run.state.step:
        print(f"resuming {run.dir} at step {run.state.step} ({run.state.state})", file=sys.stderr)
    return _drive(run, outputs or [run.dir / "report.md"], args.quiet)


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out-dir", default="out/demo")
    p.add_argument("--question", default=None, help="research question (default: one about Python's exceptions)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_arguments(p)


def _demo(args: argparse.Namespace) -> int:
    """Index the CPython language reference and write a report on it with the embedded model."""
    from .demo import DEMO_BUDGET, DEMO_QUESTION, build_demo_corpus

    out = Path(args.out_dir)
    started = time.time()
    index, summary = build_demo_corpus(out, progress=not args.quiet)
    print(f"indexed {out / 'corpus'}: {summary}")
    config = WarpConfig().replace(**{**DEMO_BUDGET, "index": str(index), **overrides(args)})
    print("budget: " + ", ".join(f"{k}={getattr(config, k)}" for k in DEMO_BUDGET) +
          f", model={config.model} (override with --max-steps N, --set KEY=VALUE, --model SPEC)")
    if (out / "run").exists():
        shutil.rmtree(out / "run")
    run = open_run(args.question or DEMO_QUESTION, run_dir=out / "run", config=config)
    code = _drive(run, [out / "report.md", out / "report.ipynb"], args.quiet)
    print(f"total with indexing {time.time() - started:.1f} s")
    return code


# batch.
def _batch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("questions", metavar="QUESTIONS.jsonl", help='one {"id": ..., "question": ...} per line')
    p.add_argument("--notebook", metavar="TEMPLATE",
                   help="papermill template (default: notebooks/batch_template.ipynb)")
    p.add_argument("--out-dir", default="out/batch", help="one folder per question here (default out/batch)")
    p.add_argument("--parallel", type=int, default=1, help="notebooks executed at once (default 1)")
    p.add_argument("--lockstep", action="store_true",
                   help="all questions in this process, one batched model call per step")
    p.add_argument("--kernel", default=None, help="kernel name for papermill (default: the notebook's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_arguments(p)


def _batch(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .batch import check_out_dir, load_questions, run_lockstep, run_papermill, summary_table, write_summary

    if args.parallel < 1:
        raise ConfigError(f"--parallel must be at least 1, got {args.parallel}")
    config = WarpConfig().replace(**overrides(args))
    loaded = load_questions(args.questions)
    check_out_dir(args.out_dir)
    bar = tqdm(total=len(loaded.questions), disable=args.quiet, unit="question", desc="batch", file=sys.stderr)
    if args.lockstep:
        bar.reset(total=config.max_steps * len(loaded.questions))
        bar.unit = "step"

        def on_step(steps: int, running: int) -> None:
            bar.update(1)
            bar.set_postfix_str(f"{running} running")

        rows = run_lockstep(loaded.questions, config, args.out_dir, on_step=on_step, on_note=bar.write)
    else:
        rows = run_papermill(loaded.questions, config, args.out_dir, template=args.notebook, parallel=args.parallel,
                             kernel_name=args.kernel, on_done=lambda r: bar.update(1))
    bar.close()
    rows = loaded.problems + rows
    print(summary_table(rows))
    write_summary(rows, args.out_dir)
    return 0 if all(r.status in ("done", "skipped") for r in rows) else 1


# eval, export.
def _eval_args(p: argparse.ArgumentParser) -> None:
    from .evaluate.options import eval_options

    eval_options(p)


def _eval(args: argparse.Namespace) -> int:
    from .evaluate.cli import eval_command

    return eval_command(args)


def _export_args(p: argparse.ArgumentParser) -> None:
    from .evaluate.options import export_options

    export_options(p)


def _export(args: argparse.Namespace) -> int:
    from .evaluate.cli import export_command

    return export_command(args)


COMMANDS: dict[str, Command] = {
    "index": Command("build or update the index of the files under PATH...", _index_args, _index),
    "search": Command("print the passages a query finds", _search_args, _search),
    "run": Command("research QUESTION and write a report (or --resume RUN_DIR)", _run_args, _run),
    "batch": Command("research every question of a JSONL file: one executed notebook each, or --lockstep",
                     _batch_args, _batch),
    "demo": Command("index the Python language reference shipped with CPython and write a report on it",
                    _demo_args, _demo),
    "eval": Command("score reports side by side: runs, folders of runs, or DeepResearch Bench submission files",
                    _eval_args, _eval),
    "export": Command("write the steps of runs as chat examples for fine-tuning (JSONL)", _export_args, _export),
}


def parser() -> argparse.ArgumentParser:
    """The ``jupyter-warp`` argument parser, one subparser per entry of ``COMMANDS``."""
    p = argparse.ArgumentParser(
        prog="jupyter-warp",
        description="Write a long, cited research report from local files with a local model (WARP).",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.arguments(sub.add_parser(name, help=command.help, description=command.help))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; a WarpError prints as one line and exits 2."""
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command].main(args)
    except WarpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
