"""``jupyter-warp index|search|run|demo``: argument parsing and dispatch only."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .errors import WarpError


def _add_run_options(p: argparse.ArgumentParser, defaults: dict[str, object] | None = None) -> None:
    d = defaults or {}
    p.add_argument("--index", default=d.get("index"), help="index folder (default: .warp/index)")
    p.add_argument("--model", default=d.get("model"), help="backend spec: smollm2 (default), transformers:ID, llamacpp:GGUF, openai:URL[#MODEL], vllm:MODEL")
    p.add_argument("--max-steps", type=int, default=d.get("max_steps"), help="model turns at most (default 140)")
    p.add_argument("--max-extends", type=int, default=d.get("max_extends"), help="deepening rounds at most (default 5)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other WarpConfig setting, e.g. --set k=5 --set temperature=0.3")
    p.add_argument("--no-grammar", action="store_true", help="do not constrain replies with a grammar")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter-warp",
        description="Write a long, cited research report from local files with a local model (WARP).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or update a Whoosh index of the files under PATH...")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--index", default=".warp/index", help="index folder (default: .warp/index)")
    p.add_argument("--max-file-mb", type=float, default=50, help="skip files larger than this (default 50)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--embed", action="store_true", help="also embed the passages for dense and hybrid search (needs jupyter-warp[semantic]; kept current afterwards)")
    p.add_argument("--embed-model", metavar="MODEL", help="sentence-transformers folder or cached model id (default: the bundled all-MiniLM-L6-v2); implies --embed")

    p = sub.add_parser("search", help="print the passages a query finds")
    p.add_argument("query")
    p.add_argument("--index", default=".warp/index")
    p.add_argument("-k", type=int, default=10, help="passages to print (default 10)")
    p.add_argument("--mode", choices=["auto", "bm25", "dense", "hybrid"], default="auto",
                   help="auto (default): hybrid where the index has vectors and jupyter-warp[semantic] is installed, else bm25")

    p = sub.add_parser("run", help="research QUESTION and write a report (or --resume RUN_DIR)")
    p.add_argument("question", nargs="?", help="the research question")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run; no completed step is redone")
    p.add_argument("--out", help="write the report here (.md or .ipynb; default RUN_DIR/report.md)")
    p.add_argument("--run-dir", help="where the run's state lives (default .warp/runs/<id>)")
    _add_run_options(p)

    p = sub.add_parser("batch", help="research every question of a JSONL file: one executed notebook each, or --lockstep")
    p.add_argument("questions", metavar="QUESTIONS.jsonl", help='one {"id": ..., "question": ...} per line')
    p.add_argument("--notebook", metavar="TEMPLATE", help="papermill template (default: notebooks/batch_template.ipynb)")
    p.add_argument("--out-dir", default="out/batch", help="one folder per question here (default out/batch)")
    p.add_argument("--parallel", type=int, default=1, help="notebooks executed at once (default 1)")
    p.add_argument("--lockstep", action="store_true", help="all questions in this process, one batched model call per step")
    p.add_argument("--kernel", default=None, help="kernel name for papermill (default: the notebook's)")
    _add_run_options(p)

    p = sub.add_parser("demo", help="index the Python language reference shipped with CPython and write a report on it")
    p.add_argument("--out-dir", default="out/demo")
    p.add_argument("--question", default=None, help="research question (default: one about Python's exceptions)")
    _add_run_options(p)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; a WarpError prints as one line and exits 2."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "index":
            from .corpus.commands import index_command

            return index_command(args.paths, args.index, quiet=args.quiet, max_file_mb=args.max_file_mb,
                                 embed=args.embed, embed_model=args.embed_model)
        if args.command == "search":
            from .corpus.commands import search_command

            return search_command(args.query, args.index, k=args.k, mode=args.mode)
        from . import commands

        if args.command == "run":
            return commands.run_command(args)
        if args.command == "batch":
            return commands.batch_command(args)
        if args.command == "demo":
            return commands.demo_command(args)
    except WarpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the run is saved; continue it with `jupyter-warp run --resume RUN_DIR`", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
