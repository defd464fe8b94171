"""The options of ``eval`` and ``export``, shared by the command line
(``jupyter-warp eval``) and the notebook (``%warp_eval``), and the call they make."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import EvalResult

METRICS_HELP = ("model-free metrics always; RACE with --criteria and --reference; FACT for runs; "
                "pairwise with --pairwise")



def eval_options(p: argparse.ArgumentParser) -> None:
    """The options of ``eval`` (shared with a notebook magic that parses the same line)."""
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help='a run directory, a folder of runs, or a .jsonl of {"id", "prompt", "article"}')
    p.add_argument("--judge", metavar="SPEC",
                   help="backend spec of the judge model (openai:URL[#MODEL], transformers:ID, smollm2...)")
    p.add_argument("--criteria", metavar="FILE", help="DeepResearch Bench criteria.jsonl (turns on RACE)")
    p.add_argument("--reference", metavar="FILE",
                   help="reference reports: a submission .jsonl, or one .md for every report")
    p.add_argument("--pairwise", action="store_true",
                   help="compare the first SOURCE with the second, question by question")
    p.add_argument("--out", metavar="FILE", help="write everything (metrics, sections, judgements) as JSON here")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="support at which a cited sentence counts as supported (0.5)")
    p.add_argument("--instructions", action="append", default=[], metavar="DIR",
                   help="another folder of prompt templates whose phrases count as copied instructions")
    p.add_argument("--fact-max", type=int, default=40,
                   help="citations the judge checks per report at most (40; 0: none)")
    p.add_argument("--judge-max-tokens", type=int, default=512, help="reply tokens per judgement (512)")
    p.add_argument("--judge-context", type=int, default=None,
                   help="prompt tokens per judgement at most (default: the model's window)")
    p.add_argument("--json", action="store_true", help="print the side-by-side table as JSON instead of text")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def export_options(p: argparse.ArgumentParser) -> None:
    """The options of ``export``."""
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="a run directory or a folder of runs")
    p.add_argument("--out", required=True, metavar="FILE", help="the JSONL file to write (one chat example a line)")
    p.add_argument("--accepted-only", action="store_true", help="leave out replies the engine rejected")
    p.add_argument("--min-support", type=float, default=None, metavar="X",
                   help="keep write steps whose cited sentences are supported at least this share (0 to 1)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="support at which a cited sentence counts as supported (0.5)")


def evaluate_args(args: argparse.Namespace) -> EvalResult:
    """``evaluate`` with the parsed ``eval`` options."""
    from .api import evaluate

    return evaluate(
        args.sources, judge=args.judge, criteria=args.criteria, reference=args.reference, pairwise=args.pairwise,
        threshold=args.threshold, instructions=args.instructions, judge_max_tokens=args.judge_max_tokens,
        judge_context=args.judge_context, fact_max=args.fact_max, progress=not args.quiet,
    )
