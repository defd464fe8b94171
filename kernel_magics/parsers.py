"""Argument parsing for the magics: one parser per magic, each returning one typed record.

A bad flag raises ``ConfigError`` (one line in the notebook, no traceback); ``-h`` prints
the help and raises ``HelpShown``, which the magic swallows.
"""

from __future__ import annotations

import argparse
import keyword
import shlex
from dataclasses import dataclass, field
from typing import Any, NoReturn

from jupyter_warp.errors import ConfigError
from jupyter_warp.options import add_config_arguments, overrides


class HelpShown(Exception):
    """``-h`` was given: the help is printed, nothing else happens."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, prog: str, **kwargs: Any) -> None:
        super().__init__(prog=prog, allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{self.prog}: {message} (`{self.prog} -h` lists the flags)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message)
        raise HelpShown()


def _split(line: str, prog: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise ConfigError(f"{prog}: cannot read the arguments ({exc})") from None


def _identifier(value: str) -> str:
    if not value.isidentifier() or keyword.iskeyword(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Python variable name")
    return value


def _notebook_options(p: argparse.ArgumentParser) -> None:
    """What the notebook does with a run; the run settings come from ``WarpConfig``."""
    p.add_argument("--step", action="store_true", help="open the step-through controller instead of running to the end")
    p.add_argument("--cells", action="store_true", help="write the finished report into the notebook as Markdown cells")
    p.add_argument("--out", action="append", default=[], metavar="FILE",
                   help="also save the finished report to FILE (.md or .ipynb; repeat for several)")
    p.add_argument("--name", type=_identifier, default="warp", help="variable that holds the run (default: warp)")
    add_config_arguments(p)


@dataclass
class WarpArgs:
    """``%%warp`` (and ``%warp_resume``): the run's settings and what to do with the result."""

    question: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    """Settings named in the line (flags and ``--set``), over the ``Warp`` traitlets."""
    step: bool = False
    cells: bool = False
    out: list[str] = field(default_factory=list)
    name: str = "warp"
    run_dir: str | None = None
    """``%%warp``: where the run lives (default .warp/runs/<id>); ``%warp_resume``: the run to load."""


def _warp_args(ns: argparse.Namespace, question: str = "") -> WarpArgs:
    notebook = {k: getattr(ns, k) for k in ("step", "cells", "out", "name", "run_dir") if hasattr(ns, k)}
    return WarpArgs(question=question, settings=overrides(ns), **notebook)


def warp_parser() -> argparse.ArgumentParser:
    """The ``%%warp`` flags; its help is also the magic's ``?`` text."""
    p = _Parser("%%warp", description="Research the question in the cell body and write a cited report (WARP).")
    p.add_argument("--run-dir", help="where the run's state is kept (default .warp/runs/<id>); re-executing the "
                                     "cell continues the run there")
    _notebook_options(p)
    return p


def resume_parser() -> argparse.ArgumentParser:
    """The ``%warp_resume`` flags; its help is also the magic's ``?`` text."""
    p = _Parser("%warp_resume", description="Load a saved run: the step-through controller at the last "
                                            "completed step, or run it to the end with --run.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--run", action="store_true", help="run to the end now instead of opening the controller")
    _notebook_options(p)
    return p


def parse_warp(line: str, cell: str | None) -> WarpArgs:
    """The ``%%warp`` line's flags and the cell body's question; an empty question is refused."""
    ns = warp_parser().parse_args(_split(line, "%%warp"))
    question = (cell or "").strip()
    if not question:
        raise ConfigError("the research question is empty: write it in the cell body below `%%warp`")
    return _warp_args(ns, question)


def parse_resume(line: str) -> WarpArgs:
    """The ``%warp_resume`` line; without ``--run`` the run opens in the step-through controller."""
    ns = resume_parser().parse_args(_split(line, "%warp_resume"))
    args = _warp_args(ns)
    args.step = args.step or not ns.run
    return args


@dataclass
class IndexArgs:
    """``%warp_index PATH... [--index DIR]``."""

    paths: list[str]
    index: str | None = None
    quiet: bool = False
    embed: bool = False
    embed_model: str | None = None
    max_text_mb: float | None = None
    max_pdf_pages: int | None = None


def index_parser() -> argparse.ArgumentParser:
    """The ``%warp_index`` flags; its help is also the magic's ``?`` text."""
    p = _Parser("%warp_index", description="Build or update the index of the files under PATH... "
                                           "(only new and changed files are read).")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--index", help="index folder (default: Warp.index; given here, it becomes Warp.index)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--embed", action="store_true", help="also embed the passages for dense and hybrid search "
                                                        "(needs jupyter-warp[semantic]; kept current afterwards)")
    p.add_argument("--embed-model", metavar="MODEL",
                   help="sentence-transformers folder or cached model id; implies --embed")
    p.add_argument("--max-text-mb", type=float, help="skip a DOCX whose XML expands past this, stop a PDF's text here")
    p.add_argument("--max-pdf-pages", type=int, help="read at most this many pages of a PDF")
    return p


def parse_index(line: str) -> IndexArgs:
    """The ``%warp_index`` line; naming no path is refused."""
    args = _split(line, "%warp_index")
    if not args:
        raise ConfigError("%warp_index: name the folders or files to index, e.g. `%warp_index docs/`")
    return IndexArgs(**vars(index_parser().parse_args(args)))


@dataclass
class StepArgs:
    """``%warp_step [N] [--name VAR]``."""

    n: int = 1
    name: str = "warp"


def step_parser() -> argparse.ArgumentParser:
    """The ``%warp_step`` flags; its help is also the magic's ``?`` text."""
    p = _Parser("%warp_step", description="Take N steps (default 1) of the run in VAR's controller.")
    p.add_argument("n", nargs="?", type=int, default=1)
    p.add_argument("--name", type=_identifier, default="warp")
    return p


def parse_step(line: str) -> StepArgs:
    """The ``%warp_step`` line; N below 1 is refused."""
    args = StepArgs(**vars(step_parser().parse_args(_split(line, "%warp_step"))))
    if args.n < 1:
        raise ConfigError(f"%warp_step: N must be at least 1, got {args.n}")
    return args


def eval_parser() -> argparse.ArgumentParser:
    """The ``%warp_eval`` flags, the same as ``jupyter-warp eval``'s."""
    from jupyter_warp.evaluate.options import METRICS_HELP, eval_options

    p = _Parser("%warp_eval", description=f"Score reports side by side ({METRICS_HELP}).")
    eval_options(p)
    return p


def parse_eval(line: str) -> argparse.Namespace:
    """``%warp_eval SOURCE... [--judge SPEC] ...``: the options of ``jupyter-warp eval``."""
    args = _split(line, "%warp_eval")
    if not args:
        raise ConfigError("%warp_eval: name the runs to score, e.g. `%warp_eval .warp/runs/<id>` or `{warp.run_dir}`")
    return eval_parser().parse_args(args)
