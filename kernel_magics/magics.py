"""``%%warp``, ``%warp_index``, ``%warp_resume`` and ``%warp_step``: parse, open the run
through the driver, hand it to the stream or the step-through controller.

Settings are traitlets of the ``Warp`` class generated from ``WarpConfig`` (one per field,
with its help), so ``%config Warp.max_steps = 80`` (or ``c.Warp.max_steps`` in
``ipython_config.py``) works; the flags of a cell override them for that cell only.
"""

from __future__ import annotations

import re
from dataclasses import Field, fields
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display
from traitlets import Any as AnyTrait
from traitlets import Bool, Dict, Float, Int, TraitError, TraitType, Unicode, observe, validate

from jupyter_warp.config import WarpConfig, setting_default, setting_type
from jupyter_warp.errors import ConfigError
from jupyter_warp.records import printable
from jupyter_warp.runs import BackendPool, Run, check_outputs, open_run

from . import parsers
from .controller import StepController
from .frontend import FrontendLink
from .parsers import HelpShown, WarpArgs
from .result import WarpResult
from .stream import stream_run

CONFIG_FIELDS = tuple(f.name for f in fields(WarpConfig))
_TRAITS: dict[type, type[TraitType[Any, Any]]] = {bool: Bool, int: Int, float: Float, str: Unicode, dict: Dict}


def _trait(f: Field[Any]) -> TraitType[Any, Any]:
    trait = _TRAITS[setting_type(f.name)](default_value=setting_default(f.name), allow_none=f.default is None,
                                         help=WarpConfig.help(f.name))
    return trait.tag(config=True)


class WarpTraitError(TraitError):
    """A bad ``%config Warp.x = ...``: one line, no traceback."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class _WarpMagics(Magics):
    """Deep-research reports from local files with a local model, WARP-style."""

    runs_dir = Unicode(".warp/runs", help="Where runs are kept (one folder per run)").tag(config=True)
    backend_factory = AnyTrait(None, allow_none=True,
                               help="callable(spec, **options) -> Backend used instead of jupyter_warp.llm.get_backend "
                                    "(tests, custom models)")
    searcher_factory = AnyTrait(None, allow_none=True,
                                help="callable(index_dir) -> Searcher used instead of jupyter_warp.corpus.open_index")

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.link = FrontendLink()
        self.backends = BackendPool(self.backend_factory)
        """Backends stay loaded for the kernel's life, one per model spec and options."""

    @validate(*CONFIG_FIELDS)
    def _check(self, proposal: Any) -> Any:
        name, value = proposal["trait"].name, proposal["value"]
        try:
            WarpConfig(**{**self.config_dict(), name: value})
        except ConfigError as exc:
            raise WarpTraitError(f"Warp.{name} = {value!r}: {exc}") from None
        return value

    @observe("backend_factory")
    def _new_factory(self, change: Any) -> None:
        self.backends = BackendPool(change["new"])

    def config_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONFIG_FIELDS}

    def _open(self, question: str | None, args: WarpArgs) -> Run:
        check_outputs(args.out)  # a report path that cannot be written fails now, not after the run
        return open_run(question, run_dir=args.run_dir, config=WarpConfig(**self.config_dict()),
                        overrides=args.settings, run_root=self.runs_dir, backends=self.backends,
                        searcher_factory=self.searcher_factory)

    # The magics.
    @cell_magic("warp")
    def warp(self, line: str, cell: str | None = None) -> None:
        try:
            args = parsers.parse_warp(line, self._question_from_variable(cell))
        except HelpShown:
            return None
        run = self._open(args.question, args)
        if run.state.step:
            print(f"resuming run {run.run_id} from {run.dir} at step {run.state.step} ({run.state.state})")
        else:
            c = run.config
            print(f"run {run.run_id} in {run.dir} ({c.model}, index {c.index}, "
                  f"up to {c.max_steps} steps, {c.max_extends} deepening rounds)")
        self._go(run, args)
        return None

    def _question_from_variable(self, cell: str | None) -> str | None:
        """A body ``{name}`` takes the question from the variable ``name`` (papermill templates)."""
        match = re.fullmatch(r"\s*\{([A-Za-z_][A-Za-z0-9_]*)\}\s*", cell or "")
        if not match:
            return cell
        name = match.group(1)
        if name not in self.shell.user_ns:
            raise ConfigError(f"the cell body names the variable {name!r}, which is not defined: define it first")
        return str(self.shell.user_ns[name])

    @line_magic("warp_resume")
    def warp_resume(self, line: str) -> None:
        try:
            args = parsers.parse_resume(line)
        except HelpShown:
            return None
        run = self._open(None, args)
        last = f"step {run.state.step} ({run.state.state})" if run.state.step else "the start"
        print(f"resumed run {run.run_id} from {run.dir} at {last}")
        self._go(run, args)
        return None

    def _go(self, run: Run, args: WarpArgs) -> None:
        result = WarpResult(run, link=self.link, shell=self.shell)
        self.shell.user_ns[args.name] = result
        if args.step:
            result.controller = StepController(run, link=self.link, cells=args.cells, outputs=args.out,
                                               shell=self.shell)
            hint = (f"Step or Run above, or from code: {args.name}.controller.step(), "
                    f"{args.name}.controller.run_to_end(); the run is `{args.name}`")
            result.controller.show(hint=hint)
            return
        result.views = stream_run(run, link=self.link, cells=args.cells, outputs=args.out, shell=self.shell)
        print(f"`{args.name}` holds the run: {args.name}.report, {args.name}.steps, {args.name}.snapshot")

    @line_magic("warp_index")
    def warp_index(self, line: str) -> None:
        try:
            args = parsers.parse_index(line)
        except HelpShown:
            return None
        from jupyter_warp.corpus import build_index

        index = args.index or self.index
        limits = {k: v for k, v in (("max_text_mb", args.max_text_mb), ("max_pdf_pages", args.max_pdf_pages))
                  if v is not None}
        summary = build_index(args.paths, index, progress=not args.quiet, embed=True if args.embed else None,
                              embed_model=args.embed_model, **limits)
        print(f"index {printable(index)}: {summary}")
        for path, reason in summary.skipped_reasons[:5]:
            print(f"  skipped {printable(path)}: {reason}")
        if len(summary.skipped_reasons) > 5:
            print(f"  ... and {len(summary.skipped_reasons) - 5} more skipped")
        if args.index and args.index != self.index:
            self.index = args.index
            print(f"Warp.index is now {args.index}")
        return None

    @line_magic("warp_eval")
    def warp_eval(self, line: str) -> None:
        try:
            args = parsers.parse_eval(line)
        except HelpShown:
            return None
        from jupyter_warp.evaluate.options import evaluate_args

        from .evaluation import EvalView

        result = evaluate_args(args)
        if args.out:
            print(f"written: {result.save(args.out)}")
        display(EvalView(result))
        return None

    @line_magic("warp_step")
    def warp_step(self, line: str) -> None:
        try:
            args = parsers.parse_step(line)
        except HelpShown:
            return None
        result = self.shell.user_ns.get(args.name)
        if not isinstance(result, WarpResult) or result.controller is None:
            raise ConfigError(f"`{args.name}` has no step-through controller: start one with `%%warp --step` "
                              "or `%warp_resume RUN_DIR`")
        for step in result.controller.step(args.n):
            change = step.diff[-1] if step.diff else (f"rejected: {step.error}" if step.error else "")
            print(f"step {step.index} · {step.state} · {change}")
        print(result.controller.status_text())
        return None


Warp = magics_class(type("Warp", (_WarpMagics,), {
    "__module__": __name__,
    "__doc__": _WarpMagics.__doc__,
    **{f.name: _trait(f) for f in fields(WarpConfig)},
}))

Warp.warp.__doc__ = parsers.warp_parser().format_help()
Warp.warp_resume.__doc__ = parsers.resume_parser().format_help()
Warp.warp_index.__doc__ = parsers.index_parser().format_help()
Warp.warp_step.__doc__ = parsers.step_parser().format_help()
Warp.warp_eval.__doc__ = parsers.eval_parser().format_help()

__all__ = ["Warp", "WarpTraitError", "CONFIG_FIELDS"]
