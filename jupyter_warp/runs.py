"""The run driver: the one owner of a run's lifecycle. Every front end (the command line,
``%%warp``, the step-through controller, both batch paths) opens a run here, steps it with
hooks and a stop flag, finishes it, and only displays what it is handed.

A run lives in its directory (``rundir``): checkpointed after every step, so a run
interrupted by Ctrl-C, a crash or a dead model server resumes where it stopped and no
completed step is redone.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import WarpConfig
from .errors import BackendError, BackendUnavailableError, ConfigError, MissingExtraError, RunError
from .llm.base import Backend
from .machine import RunStatus, reopen
from .machine.profile import backend_options
from .machine.stage import ModelInfo, Turn
from .machine.stepper import Machine
from .pool import BackendPool
from .prompts import PromptRenderer
from .records import Completion, Searcher, Step
from .render import Snapshot, report_notebook, snapshot
from .report import Report
from .rundir import DAMAGED_HINT, STATE, RunDir, RunInfo, check_writable, write_atomic
from .state import RunState

SearcherFactory = Callable[[str], Searcher]
Stop = Callable[[], bool] | threading.Event


@dataclass
class RunHooks:
    """Optional callbacks, each called in the thread that steps (nbclient's hooks, for a run)."""

    on_step_start: Callable[[Run], None] | None = None
    """Before each step, with the phase about to run."""
    on_step: Callable[[Run, Step, Snapshot], None] | None = None
    """After each step is saved, with its record and the run's new snapshot."""
    on_error: Callable[[Run, BaseException], None] | None = None
    """When a step raises (a dead server, a bug); the run is saved and the error re-raised."""
    on_model_load: Callable[[Run], None] | None = None
    """Before the driver loads the model for this run's first step (seconds for a local
    model), when no open backend of the pool serves it; not called when one does."""


@dataclass
class RunResult:
    """What ``Run.finish`` hands back for display."""

    run_dir: Path
    status: RunStatus
    snapshot: Snapshot
    reports: list[Path] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line on how the run ended, for a front end's status message."""
        return self.snapshot.summary


def new_run_id(question: str) -> str:
    """A sortable, readable directory name: time, the question's first words, a random tail."""
    slug = "-".join(re.findall(r"[a-z0-9]+", question.lower())[:4])[:32] or "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{uuid.uuid4().hex[:4]}"


def resume_hint(run_dir: str | Path, notebook: bool = False) -> str:
    """How to continue a saved run, in the words of the front end the user is in."""
    how = f"`%warp_resume {run_dir}`" if notebook else f"`jupyter-warp run --resume {run_dir}`"
    return f"the run is saved: continue it with {how}"


def find_runs(folder: str | Path) -> list[Path]:
    """Run directories at or under ``folder`` (a batch's ``OUT/<id>/run`` included), sorted."""
    return sorted({p.parent for p in Path(folder).rglob(STATE) if ".ipynb_checkpoints" not in p.parts})


def peek(run_dir: str | Path, strict: bool = False) -> RunInfo | None:
    """A run directory's question, status and counters, without loading it (None: no run).
    ``strict``: a ``state.json`` that cannot be read raises ``RunError`` instead of None."""
    files = RunDir(run_dir)
    info = files.info()
    if info is None and strict:
        files.check_usable()
        if files.exists():
            files.read_json()  # raises what is wrong with the file, else it lacks a field
            raise RunError(f"{files.path / STATE} is not a valid run state; {DAMAGED_HINT}")
    return info


class Run:
    """One research question's run: its state, its steps, and how to take the next one."""

    def __init__(self, state: RunState, files: RunDir, *, backend: Backend | None = None,
                 searcher: Searcher | None = None, backends: BackendPool | None = None,
                 searcher_factory: SearcherFactory | None = None) -> None:
        self.state = state
        self.files = files
        self._backend = backend
        self._searcher = searcher
        self._backends = backends or BackendPool()
        self._searcher_factory = searcher_factory
        self._machine: Machine | None = None
        self._steps: list[Step] | None = None
        self._snapshot: tuple[tuple[int, int], Snapshot] | None = None
        self._edits = 0

    # Opening.
    @classmethod
    def create(cls, question: str, config: WarpConfig | None = None, *, run_dir: str | Path | None = None,
               run_root: str | Path = ".warp/runs", **collaborators: Any) -> Run:
        """Start a new run of ``question`` in a new run directory; an empty question is refused."""
        question = (question or "").strip()
        if not question:
            raise ConfigError("the research question is empty: give the question to research")
        config = config or WarpConfig()
        run_id = new_run_id(question)
        files = RunDir(run_dir or Path(run_root) / run_id)
        files.create()
        run = cls(RunState.new(run_id, question, config), files, **collaborators)
        files.save(run.state)
        return run

    @classmethod
    def resume(cls, run_dir: str | Path, *, backend: Backend | None = None, searcher: Searcher | None = None,
               backends: BackendPool | None = None, searcher_factory: SearcherFactory | None = None,
               **overrides: Any) -> Run:
        """Load a run to go on with it; ``overrides`` change settings such as ``max_steps``."""
        files = RunDir(run_dir)
        with files.lock():  # the repair must not cut a step another process is saving
            state = files.load(repair=True)
        before = state.config
        state.config = before.replace(**{**overrides, "backend_options": {**before.backend_options,
                                                                           **overrides.get("backend_options", {})}})
        reopen(state, state.config, before)
        return cls(state, files, backend=backend, searcher=searcher, backends=backends,
                   searcher_factory=searcher_factory)

    @classmethod
    def load(cls, run_dir: str | Path) -> Run:
        """A run as saved, to read (reports, steps, evaluation); stepping it needs ``resume``."""
        files = RunDir(run_dir)
        return cls(files.load(), files)

    # Collaborators, opened lazily so that looking at a run needs no model.
    @property
    def backend(self) -> Backend:
        """The model, opened from the pool on first use so that reading a run loads none."""
        if self._backend is None:
            self._backend = self._backends.get(self.config.model, backend_options(self.config))
        return self._backend

    @property
    def searcher(self) -> Searcher:
        """The corpus, opened on first use."""
        if self._searcher is None:
            self._searcher = open_searcher(self.config, self._searcher_factory)
        return self._searcher

    @property
    def machine(self) -> Machine:
        """The state machine over this run's state, built on first use (it needs the model's limits)."""
        if self._machine is None:
            info = ModelInfo.from_backend(self.backend, self.config)
            renderer = PromptRenderer(self.config.prompts_dir, self.config.prompt_profile)
            self._machine = Machine(self.state, self.searcher, info, renderer)
        return self._machine

    # Stepping.
    @property
    def config(self) -> WarpConfig:
        """The run's settings, as saved with its state."""
        return self.state.config

    @property
    def dir(self) -> Path:
        """The run directory."""
        return self.files.path

    @property
    def done(self) -> bool:
        """Whether the run is over (done or failed); a stopped run is not."""
        return self.state.finished

    def prepare(self) -> Turn | None:
        """The next turn, without calling the model (lockstep batches call the model for many)."""
        return self.machine.prepare()

    def complete(self, turn: Turn, completion: Completion) -> Step:
        """Apply the model's completion of ``turn`` and checkpoint the step."""
        with self.files.lock():
            self._check_current()
            step = self.machine.apply(turn, completion)
            self.state.wall_s += max(0.0, step.ended_at - step.started_at)
            self.files.save(self.state, step)
        if self._steps is not None:
            self._steps.append(step)
        return step

    def step(self) -> Step | None:
        """Take one model turn and checkpoint it; None when the run is over."""
        turn = self.prepare()
        if turn is None:
            self.save()
            return None
        completion = turn.offline()
        if completion is None:
            try:
                completion = self.backend.generate([turn.request])[0]
            except (BackendUnavailableError, MissingExtraError):
                raise
            except BackendError as exc:  # this request failed (too long, refused): a failed step
                completion = Completion("", finish_reason="error", error=str(exc))
        return self.complete(turn, completion)

    def run(self, max_steps: int | None = None, *, hooks: RunHooks | None = None, stop: Stop | None = None) -> Run:
        """Step until done, ``max_steps`` more steps, or ``stop``; saved after each step."""
        hooks = hooks or RunHooks()
        stopped = stop.is_set if isinstance(stop, threading.Event) else stop
        taken = 0
        try:
            while not self.done and (max_steps is None or taken < max_steps):
                if stopped and stopped():
                    break
                if taken == 0:
                    self._load_model(hooks)
                if hooks.on_step_start:
                    hooks.on_step_start(self)
                step = self.step()
                if step is None:
                    break
                taken += 1
                if hooks.on_step:
                    hooks.on_step(self, step, self.snapshot())
        except BaseException as exc:
            if hooks.on_error:
                hooks.on_error(self, exc)
            raise
        finally:
            try:
                self.save()
            except RunError:
                pass  # another process holds the run; every completed step is saved already
        return self

    def _load_model(self, hooks: RunHooks) -> None:
        """Open the backend before the first step, telling ``on_model_load`` when it takes a load."""
        if self._backend is None:
            if hooks.on_model_load and not self._backends.holds(self.config.model, backend_options(self.config)):
                hooks.on_model_load(self)
            _ = self.backend  # loaded before on_step_start, so a front end tells loading from stepping

    def stop(self, reason: str = "stopped by the user") -> None:
        """Mark the run stopped between steps; ``resume`` continues it."""
        if not self.done:
            self.state.status, self.state.stop_reason = RunStatus.STOPPED, reason
        self.save()

    def save(self) -> None:
        """Checkpoint a change made between steps (a stop, an edit, the budget used)."""
        with self.files.lock():
            self._check_current()
            self.files.save(self.state)

    def _check_current(self) -> None:
        if self.files.saved_step(self.state.step) > self.state.step:
            raise RunError(f"another process has stepped the run in {self.dir} since it was opened here: "
                           "open it again to go on")

    def finish(self, outputs: Iterable[str | Path] = ()) -> RunResult:
        """Write the report to each of ``outputs`` (``.md`` or ``.ipynb``) and hand back the result."""
        self.save()
        shot = self.snapshot()
        written = []
        for out in outputs:
            path = Path(out)
            text = report_notebook(shot.cells, self.state.query) if path.suffix == ".ipynb" else shot.markdown
            write_atomic(path, text)
            written.append(path)
        return RunResult(self.dir, self.state.status, shot, written)

    # Reading.
    def snapshot(self) -> Snapshot:
        """The run as front ends show it; computed once per step or edit."""
        version = (self.state.step, self._edits)
        if self._snapshot is None or self._snapshot[0] != version or self._snapshot[1].status != self.state.status:
            self._snapshot = (version, snapshot(self.state))
        return self._snapshot[1]

    @property
    def steps(self) -> list[Step]:
        """Every saved step, read from the run directory once."""
        if self._steps is None:
            self._steps = self.files.steps(self.state.step, self.state.registry.passages.__getitem__)
        return self._steps

    @property
    def report(self) -> Report:
        """The report tree as it stands."""
        return self.state.report

    @property
    def run_id(self) -> str:
        """The run's id, also its default directory name."""
        return self.state.run_id

    # The user's edits, between steps.
    def edit(self, op: str, position: str | None = None, **kwargs: Any) -> list[str]:
        """``rename``, ``replan``, ``delete``, ``lock``, ``unlock`` or ``add``; logged in edits.jsonl."""
        r = self.state.report
        ops: dict[str, Callable[[], list[str]]] = {
            "rename": lambda: r.rename(_need(position), kwargs["title"]),
            "replan": lambda: r.replan(_need(position), kwargs["plan"], kwargs.get("rewrite", False)),
            "delete": lambda: r.delete(_need(position)),
            "lock": lambda: r.lock(_need(position), True),
            "unlock": lambda: r.lock(_need(position), False),
            "add": lambda: r.add(kwargs["title"], kwargs.get("plan", ""), parent=position, index=kwargs.get("index")),
        }
        if op not in ops:
            raise ConfigError(f"unknown edit {op!r}; use one of {', '.join(ops)}")
        with self.files.lock():
            diff = ops[op]()
            reopen(self.state, self.config)
            self._edits += 1
            self.save()
            self.files.log_edit({"after_step": self.state.step, "op": op, "position": position, **kwargs, "diff": diff})
        return diff


def open_run(question: str | None = None, *, run_dir: str | Path | None = None, config: WarpConfig | None = None,
             overrides: dict[str, Any] | None = None, run_root: str | Path = ".warp/runs",
             **collaborators: Any) -> Run:
    """The one way in: resume the run in ``run_dir`` if there is one (of the same question,
    when a question is given), else create a run of ``question`` with ``config`` and
    ``overrides``. ``collaborators``: ``backend``, ``searcher``, ``backends`` (a pool),
    ``searcher_factory``."""
    overrides = overrides or {}
    if run_dir is not None:
        files = RunDir(run_dir)
        files.check_usable()
        if files.exists():
            run = Run.resume(run_dir, **collaborators, **overrides)
            if question and question.strip() != run.state.query:
                raise ConfigError(f"{run_dir} holds a run of another question ({run.state.query[:60]!r}): "
                                  "pick another run folder")
            return run
    if question is None:
        raise RunError(f"no run at {run_dir} (no state.json): start one with a question")
    config = (config or WarpConfig()).replace(**overrides)
    pool = collaborators.get("backends")
    if collaborators.get("backend") is None and (pool is None or pool.factory is None):
        from .llm.registry import parse_spec, registry

        registry.factory(parse_spec(config.model)[0])  # an unknown model fails before a run exists
    if collaborators.get("searcher") is None:  # so does a missing index
        collaborators["searcher"] = open_searcher(config, collaborators.get("searcher_factory"))
    return Run.create(question, config, run_dir=run_dir, run_root=run_root, **collaborators)


def open_searcher(config: WarpConfig, factory: SearcherFactory | None = None) -> Searcher:
    """The run's corpus: ``factory(index)`` when a front end gives one, else the index with
    the run's ``retrieval`` mode."""
    if factory is not None:
        return factory(config.index)
    from .corpus import open_index

    return open_index(config.index, retrieval=config.retrieval)


def check_outputs(outputs: Iterable[str | Path]) -> list[Path]:
    """The report paths a front end will hand to ``Run.finish``, each refused with one line
    before the run starts when it cannot become a file (a folder, a file in the way)."""
    return [check_writable(path) for path in outputs]


def _need(position: str | None) -> str:
    if not position:
        raise ConfigError("this edit needs a position such as section-2.1")
    return position


__all__ = ["Run", "RunHooks", "RunResult", "BackendPool", "open_run", "peek", "resume_hint", "new_run_id",
           "check_outputs", "DAMAGED_HINT"]
