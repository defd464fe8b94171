"""``%%warp``, ``%warp_index``, ``%warp_resume`` and ``%warp_step``: parse, build the run, dispatch.

Settings are traitlets of the ``Warp`` class, one per ``WarpConfig`` field, so
``%config Warp.max_steps = 80`` (or ``c.Warp.max_steps`` in ``ipython_config.py``) works;
the flags of a cell override them for that cell only.
"""

from __future__ import annotations

import re

from dataclasses import fields
from pathlib import Path
from typing import Any, Callable

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display
from traitlets import Any as AnyTrait
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate

from jupyter_warp.commands import overrides_from_args
from jupyter_warp.config import WarpConfig
from jupyter_warp.errors import BackendError, ConfigError
from jupyter_warp.llm.base import Backend
from jupyter_warp.records import Searcher
from jupyter_warp.runs import Run

from . import parsers
from .controller import StepController
from .frontend import FrontendLink
from .parsers import HelpShown, WarpArgs
from .result import WarpResult
from .stream import stream_run

CONFIG_FIELDS = tuple(f.name for f in fields(WarpConfig))


class WarpTraitError(TraitError):
    """A bad ``%config Warp.x = ...``: one line, no traceback."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


@magics_class
class Warp(Magics):
    """Deep-research reports from local files with a local model, WARP-style."""

    # One trait per WarpConfig field (tests/test_magics.py checks they match).
    model = Unicode("smollm2", help="Backend spec: smollm2 (embedded), transformers:ID, llamacpp:GGUF, "
                                    "openai:URL#MODEL, vllm:MODEL, replay:FILE.jsonl").tag(config=True)
    index = Unicode(".warp/index", help="Index folder (build it with %warp_index PATH...)").tag(config=True)
    max_steps = Int(140, help="Model turns at most").tag(config=True)
    max_extends = Int(5, help="Deepening rounds at most").tag(config=True)
    max_depth = Int(3, help="Deepest outline level (1 to 3)").tag(config=True)
    first_k = Int(20, help="Passages shown after the first search (to the planner)").tag(config=True)
    k = Int(10, help="Passages shown after every later search (to the writer)").tag(config=True)
    max_keywords = Int(5, help="Keywords a search may use").tag(config=True)
    passage_max_chars = Int(1200, help="Characters of each passage shown in a prompt").tag(config=True)
    min_sections = Int(3, help="Fewest top-level sections a plan may have").tag(config=True)
    max_sections = Int(12, help="Most top-level sections a plan may have").tag(config=True)
    min_subsections = Int(2, help="Fewest subsections a deepening may add").tag(config=True)
    max_subsections = Int(7, help="Most subsections a deepening may add").tag(config=True)
    min_section_chars = Int(50, help="Shortest acceptable written section").tag(config=True)
    max_cites = Int(12, help="Most citations in one written section").tag(config=True)
    temperature = Float(0.7, help="Sampling temperature (0 to 2)").tag(config=True)
    top_p = Float(0.8, help="Nucleus sampling (above 0, at most 1)").tag(config=True)
    max_new_tokens = Int(2048, help="Tokens a reply may have").tag(config=True)
    constrained = Bool(True, help="Constrain replies to the action format with a grammar where the "
                                  "backend can").tag(config=True)
    thought_max_chars = Int(300, help="Longest thought under constrained decoding").tag(config=True)
    write_max_chars = Int(1500, help="Longest written section under constrained decoding").tag(config=True)
    max_retries = Int(3, help="Consecutive rejected replies in one state before the engine falls back").tag(config=True)
    prompts_dir = Unicode(None, allow_none=True, help="A folder of Jinja templates replacing the built-in "
                                                      "prompts").tag(config=True)
    seed = Int(None, allow_none=True, help="Sampling seed (None: random)").tag(config=True)

    # Notebook-only settings.
    runs_dir = Unicode(".warp/runs", help="Where runs are kept (one folder per run)").tag(config=True)
    backend_factory = AnyTrait(None, allow_none=True,
                               help="callable(spec) -> Backend used instead of jupyter_warp.llm.get_backend "
                                    "(tests, custom models)")
    searcher_factory = AnyTrait(None, allow_none=True,
                                help="callable(index_dir) -> Searcher used instead of jupyter_warp.corpus.open_index")

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.link = FrontendLink()
        self._backends: dict[str, Backend] = {}

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
        self._backends.clear()

    # The pieces of a run.
    def config_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONFIG_FIELDS}

    def run_config(self, args: WarpArgs) -> WarpConfig:
        """The ``Warp`` settings with this cell's flags on top."""
        return WarpConfig(**self.config_dict()).replace(**overrides_from_args(args))  # type: ignore[arg-type]

    def backend(self, spec: str) -> Backend:
        """The backend for ``spec``, loaded once per kernel (a ``replay:`` backend is fresh each run)."""
        if spec in self._backends:
            return self._backends[spec]
        factory: Callable[[str], Backend] | None = self.backend_factory
        if factory is None:
            try:
                from jupyter_warp.llm import get_backend
            except ImportError as exc:
                raise BackendError(f"the model backends are not available ({exc}); "
                                   "set Warp.backend_factory to a callable(spec) -> Backend") from None
            factory = get_backend
        backend = factory(spec)
        if not spec.startswith("replay:"):
            self._backends[spec] = backend
        return backend

    def searcher(self, index: str) -> Searcher:
        if self.searcher_factory is not None:
            return self.searcher_factory(index)
        from jupyter_warp.corpus import open_index

        return open_index(index)

    # The magics.
    @cell_magic("warp")
    def warp(self, line: str, cell: str | None = None) -> None:
        try:
            args = parsers.parse_warp(line, self._question_from_variable(cell))
        except HelpShown:
            return None
        config = self.run_config(args)
        searcher = self.searcher(config.index)  # a missing index fails here, before a run exists
        backend = self.backend(config.model)
        if args.run_dir and (Path(args.run_dir) / "state.json").is_file():
            run = self._resume_same_question(args, config, backend, searcher)
        else:
            run = Run.create(args.question, config, run_dir=args.run_dir, backend=backend, searcher=searcher,
                             run_root=self.runs_dir)
            print(f"run {run.run_id} in {run.dir} ({config.model}, index {config.index}, "
                  f"up to {config.max_steps} steps, {config.max_extends} deepening rounds)")
        self._go(run, args)
        return None

    def _resume_same_question(self, args: WarpArgs, config: WarpConfig, backend: Backend, searcher: Searcher) -> Run:
        """Re-executing a ``--run-dir`` cell continues its run (papermill re-runs, interrupted batches)."""
        run = Run.resume(args.run_dir, backend=backend, searcher=searcher, **overrides_from_args(args))
        if run.state.query != args.question:
            raise ConfigError(f"{args.run_dir} holds a run of another question ({run.state.query[:60]!r}): "
                              "pick another --run-dir")
        print(f"resuming run {run.run_id} from {run.dir} at step {run.state.step} ({run.state.state})")
        return run

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
        loaded = Run.resume(args.run_dir, **overrides_from_args(args))  # type: ignore[arg-type]
        config = loaded.state.config
        run = Run(loaded.state, loaded.dir, self.backend(config.model), self.searcher(config.index))
        last = f"step {run.state.step} ({run.state.state})" if run.state.step else "the start"
        print(f"resumed run {run.run_id} from {run.dir} at {last}")
        self._go(run, args)
        return None

    def _go(self, run: Run, args: WarpArgs) -> None:
        result = WarpResult(run, link=self.link, shell=self.shell)
        self.shell.user_ns[args.name] = result
        if args.step:
            result.controller = StepController(run, link=self.link, cells=args.cells, out=args.out, shell=self.shell)
            display(result.controller)
            print(f"Step or Run above, or from code: {args.name}.controller.step(), "
                  f"{args.name}.controller.run_to_end(); the run is `{args.name}`")
            return
        stream_run(run)
        if args.out:
            print(f"report saved to {run.save_report(args.out)}")
        if args.cells:
            result.to_cells()
        print(f"`{args.name}` holds the run: {args.name}.report, {args.name}.steps, {args.name}.to_cells()")

    @line_magic("warp_index")
    def warp_index(self, line: str) -> None:
        try:
            args = parsers.parse_index(line)
        except HelpShown:
            return None
        from jupyter_warp.corpus import build_index

        index = args.index or self.index
        summary = build_index(args.paths, index, progress=not args.quiet)
        print(f"index {index}: {summary}")
        for path, reason in summary.skipped_reasons[:5]:
            print(f"  skipped {path}: {reason}")
        if len(summary.skipped_reasons) > 5:
            print(f"  ... and {len(summary.skipped_reasons) - 5} more skipped")
        if args.index and args.index != self.index:
            self.index = args.index
            print(f"Warp.index is now {args.index}")
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


Warp.warp.__doc__ = parsers.warp_parser().format_help()
Warp.warp_resume.__doc__ = parsers.resume_parser().format_help()
Warp.warp_index.__doc__ = parsers.index_parser().format_help()
Warp.warp_step.__doc__ = parsers.step_parser().format_help()

__all__ = ["Warp", "WarpTraitError", "CONFIG_FIELDS"]
