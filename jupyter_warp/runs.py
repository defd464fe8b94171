"""A run on disk: ``state.json`` rewritten atomically after every step, ``steps.jsonl``
appended, so that a run interrupted by Ctrl-C, a crash or a dead model server resumes
where it stopped and no completed step is redone.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from .actions import query_language
from .config import WarpConfig
from .errors import ConfigError, RunError
from .llm.base import Backend
from .output import cells_payload, outline_payload, report_markdown, save_report
from .policy import ModelInfo, WarpPolicy
from .prompts import PromptRenderer
from .citations import CitationRegistry
from .records import Passage, Searcher, Step
from .report import Report
from .state import DONE, FAILED, RUNNING, STOPPED, RunState

StepHook = Callable[["Run", Step], None]


def new_run_id(question: str) -> str:
    slug = "-".join(re.findall(r"[a-z0-9]+", question.lower())[:4])[:32] or "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{uuid.uuid4().hex[:4]}"


def _append(path: Path, lines: list[str]) -> None:
    """Append whole lines; a process killed mid-run leaves at most a torn last line."""
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for line in f if line.endswith(b"\n"))


def _truncate_lines(path: Path, count: int) -> None:
    """Drop what a step that never finished appended past the first ``count`` lines."""
    if not path.exists():
        return
    data = path.read_bytes()
    end = 0
    for _ in range(count):
        end = data.index(b"\n", end) + 1
    if end != len(data):
        with path.open("r+b") as f:
            f.truncate(end)


def _read_passages(path: Path, count: int) -> list[Passage]:
    """The first ``count`` passages; lines past it were written by a step that never finished."""
    out: list[Passage] = []
    if count and path.exists():
        with path.open(encoding="utf-8") as f:
            for line in f:
                if len(out) == count:
                    break
                out.append(Passage.from_dict(json.loads(line)))
    if len(out) < count:
        raise KeyError(f"passages.jsonl holds {len(out)} passages, state.json expects {count}")
    return out


class Run:
    """One research question's run: its state, its steps, and how to take the next one."""

    def __init__(self, state: RunState, run_dir: Path, backend: Backend | None = None,
                 searcher: Searcher | None = None) -> None:
        self.state = state
        self.dir = run_dir
        self._backend = backend
        self._searcher = searcher
        self._policy: WarpPolicy | None = None
        self._steps: list[Step] | None = None
        self._saved_passages: int | None = None

    # Creating and resuming.
    @classmethod
    def create(cls, question: str, config: WarpConfig | None = None, *, run_dir: str | Path | None = None,
               backend: Backend | None = None, searcher: Searcher | None = None,
               run_root: str | Path = ".warp/runs") -> "Run":
        question = (question or "").strip()
        if not question:
            raise ConfigError("the research question is empty: give the question to research")
        config = config or WarpConfig()
        run_id = new_run_id(question)
        path = Path(run_dir) if run_dir else Path(run_root) / run_id
        if (path / "state.json").exists():
            raise RunError(f"{path} already holds a run: resume it with `jupyter-warp run --resume {path}` or pick another --run-dir")
        path.mkdir(parents=True, exist_ok=True)
        state = RunState(run_id=run_id, query=question, config=config, report=Report(query=question),
                         language=query_language(question))
        run = cls(state, path, backend, searcher)
        run.save()
        (path / "steps.jsonl").touch()
        return run

    @classmethod
    def resume(cls, run_dir: str | Path, *, backend: Backend | None = None, searcher: Searcher | None = None,
               **overrides: Any) -> "Run":
        """Load a run; ``overrides`` change settings such as ``max_steps`` or ``model``."""
        path = Path(run_dir)
        state_file = path / "state.json"
        if not state_file.is_file():
            raise RunError(f"no run at {path} (no state.json): start one with `jupyter-warp run QUESTION`")
        try:
            data = json.loads(state_file.read_text(encoding="utf-8"))
            registry = CitationRegistry.from_list(_read_passages(path / "passages.jsonl", data.get("registry_size", 0)))
            state = RunState.from_dict(data, registry)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise RunError(f"{state_file} is unreadable ({exc}); the step log {path / 'steps.jsonl'} is intact") from None
        _truncate_lines(path / "passages.jsonl", len(registry.passages))
        state.config = state.config.replace(**overrides)
        if state.status in (FAILED, STOPPED):
            state.status, state.failures, state.stop_reason = RUNNING, 0, ""
        if state.status == DONE and state.step < state.config.max_steps and overrides.get("max_extends", 0) > state.extend_count:
            state.status, state.state, state.stop_reason = RUNNING, "extend_plan", ""
        return cls(state, path, backend, searcher)

    # Lazy collaborators, so that loading a run to look at it needs no model.
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from .llm import get_backend

            self._backend = get_backend(self.state.config.model)
        return self._backend

    @property
    def searcher(self) -> Searcher:
        if self._searcher is None:
            from .corpus import open_index

            self._searcher = open_index(self.state.config.index)
        return self._searcher

    @property
    def policy(self) -> WarpPolicy:
        if self._policy is None:
            backend = self.backend
            info = ModelInfo(backend.count_tokens, backend.context_window, backend.supports_grammar)
            self._policy = WarpPolicy(self.state, self.searcher, info, PromptRenderer(self.state.config.prompts_dir))
        return self._policy

    # Stepping.
    @property
    def done(self) -> bool:
        return self.state.finished

    def step(self) -> Step | None:
        """Take one model turn and checkpoint it; None when the run is over."""
        turn = self.policy.prepare()
        if turn is None:
            self.save()
            return None
        completion = self.backend.generate([turn.request])[0]
        return self.record(self.policy.apply(turn, completion))

    def record(self, step: Step) -> Step:
        """Checkpoint after a step: state first (atomically), then the step log."""
        self.state.wall_s += max(0.0, step.ended_at - step.started_at)
        self.save()
        _append(self.dir / "steps.jsonl", [json.dumps(step.to_dict(passages=False), ensure_ascii=False)])
        if self._steps is not None:
            self._steps.append(step)
        return step

    def run(self, max_steps: int | None = None, *, on_step_start: Callable[["Run"], None] | None = None,
            on_step_end: StepHook | None = None, on_error: Callable[["Run", BaseException], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> "Run":
        """Step until done, ``max_steps`` more steps, or ``should_stop()``; saved after each step."""
        taken = 0
        try:
            while not self.done and (max_steps is None or taken < max_steps):
                if should_stop and should_stop():
                    break
                if on_step_start:
                    on_step_start(self)
                step = self.step()
                if step is None:
                    break
                taken += 1
                if on_step_end:
                    on_step_end(self, step)
        except BaseException as exc:
            if on_error:
                on_error(self, exc)
            raise
        finally:
            self.save()
        return self

    def stop(self, reason: str = "stopped by the user") -> None:
        """Mark the run stopped between steps; ``Run.resume`` continues it."""
        if not self.done:
            self.state.status, self.state.stop_reason = STOPPED, reason
        self.save()

    def save(self) -> None:
        """New passages go to ``passages.jsonl`` first, then ``state.json`` is replaced whole."""
        passages = list(self.state.registry.passages.values())
        if self._saved_passages is None:
            self._saved_passages = _count_lines(self.dir / "passages.jsonl")
        if len(passages) > self._saved_passages:
            _append(self.dir / "passages.jsonl",
                    [json.dumps(p.to_dict(), ensure_ascii=False) for p in passages[self._saved_passages:]])
            self._saved_passages = len(passages)
        tmp = self.dir / ".state.json.tmp"
        tmp.write_text(json.dumps(self.state.to_dict(passages=False), ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.dir / "state.json")

    # Reading.
    @property
    def steps(self) -> list[Step]:
        if self._steps is None:
            self._steps = []
            log = self.dir / "steps.jsonl"
            if log.exists():
                for line in log.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        step = Step.from_dict(json.loads(line), self.state.registry.passages.__getitem__)
                        if step.index <= self.state.step:
                            self._steps.append(step)
        return self._steps

    @property
    def report(self) -> Report:
        return self.state.report

    @property
    def run_id(self) -> str:
        return self.state.run_id

    def summary(self) -> dict[str, Any]:
        s = self.state
        return {"run_id": s.run_id, "status": s.status, "steps": s.step, **s.counters,
                "extend_count": s.extend_count, "wall_s": round(s.wall_s, 1), "stop_reason": s.stop_reason}

    def summary_line(self) -> str:
        c = self.summary()
        return (f"{c['status']}: {c['steps']} steps, {c['searches']} searches, {c['extends']} extends, "
                f"{c['writes']} sections written, tokens in/out {c['tokens_in']}/{c['tokens_out']}, "
                f"wall {c['wall_s']:.1f} s" + (f" ({c['stop_reason']})" if c["stop_reason"] else ""))

    def to_markdown(self) -> str:
        return report_markdown(self.state)

    def to_cells(self) -> dict[str, Any]:
        return cells_payload(self.state)

    def outline(self) -> dict[str, Any]:
        return outline_payload(self.state)

    def save_report(self, path: str | Path) -> Path:
        return save_report(self.state, path)

    # The user's edits between steps.
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
        diff = ops[op]()
        if self.state.state == "done" and r.next_unwritten() is not None:
            self.state.state, self.state.status, self.state.stop_reason = "search", RUNNING, ""
        self.save()
        _append(self.dir / "edits.jsonl", [json.dumps(
            {"after_step": self.state.step, "op": op, "position": position, **kwargs, "diff": diff}, ensure_ascii=False)])
        return diff


def _need(position: str | None) -> str:
    if not position:
        raise ConfigError("this edit needs a position such as section-2.1")
    return position
