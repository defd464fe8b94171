"""Many questions: one executed notebook per question (papermill), or all questions in one
process in lockstep, each step one batched backend call for every question still running.

Both paths write the same files per question under ``OUT_DIR/<id>/``: ``run/`` (the run
state), ``report.md`` and ``report.ipynb``. A question whose report exists is skipped when
the batch is run again; an interrupted one is resumed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from .config import WarpConfig
from .errors import BackendUnavailableError, ConfigError, WarpError, describe
from .llm.base import Backend
from .lockstep import Pacer, run_turns
from .machine.stage import Turn
from .questions import (
    BatchResult,
    Question,
    QuestionFile,
    check_out_dir,
    load_questions,
    summary_table,
    write_summary,
)
from .records import ChatRequest, Completion, Searcher
from .runs import DAMAGED_HINT, BackendPool, Run, open_run, peek

__all__ = ["Question", "BatchResult", "QuestionFile", "load_questions", "run_lockstep", "run_papermill", "run_batch",
           "summary_table", "write_summary", "check_out_dir"]

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "notebooks" / "batch_template.ipynb"


def _result_from_run(q: Question, run: Run, folder: Path, started: float) -> BatchResult:
    """The row of a question whose run ended (or stopped); a failed last step says why."""
    s = run.state
    error = s.stop_reason if s.status != "done" else ""
    last = run.steps[-1] if s.counters["failed_steps"] and run.steps else None
    if last is not None and last.error:
        error = f"{error}; last step: {last.error}" if error else f"the last step failed: {last.error}"
    return BatchResult(q.id, q.question, s.status.value, s.step, s.counters["tokens_in"], s.counters["tokens_out"],
                       round(time.time() - started, 2), str(folder / "report.md"), error)


def _settled(q: Question, folder: Path) -> BatchResult | None:
    """The row of a question its folder settles before any work: done in an earlier batch
    (``skipped``), or an ``error`` when the folder holds a run that must not be touched (another
    question's, or a damaged one). None: run or resume it."""
    try:
        info = peek(folder / "run", strict=True)
    except WarpError as exc:
        problem = str(exc).removesuffix(f"; {DAMAGED_HINT}")
        return BatchResult(q.id, q.question, "error",
                           error=f"{problem}: move {folder} away to research this question again")
    if info is None:
        return None
    if info.question != q.question:
        return BatchResult(q.id, q.question, "error",
                           error=f"{folder} holds the run of another question ({info.question[:60]!r}): give this "
                                 f"question a new id, or move {folder} away to research it again")
    if info.status != "done" or not (folder / "report.md").is_file():
        return None
    c = info.counters
    return BatchResult(q.id, q.question, "skipped", info.step, c.get("tokens_in", 0), c.get("tokens_out", 0), 0.0,
                       str(folder / "report.md"))


def _report_files(folder: Path) -> list[Path]:
    return [folder / "report.md", folder / "report.ipynb"]


def _generate(backend: Backend, requests: list[ChatRequest]) -> list[Completion]:
    """One batched call; if it fails as a whole, each request alone, so that one bad request
    (too long, malformed) fails its own question and not the batch (a backend that refills
    its batch handles each row itself)."""
    try:
        return backend.generate(requests)
    except BackendUnavailableError:
        raise
    except Exception:
        pass
    out = []
    for request in requests:
        try:
            out += backend.generate([request])
        except BackendUnavailableError:
            raise
        except Exception as exc:
            out.append(Completion("", finish_reason="error", error=f"{type(exc).__name__}: {exc}"))
    return out


def run_lockstep(questions: Sequence[Question], config: WarpConfig, out_dir: str | Path, *,
                 backend: Backend | None = None, searcher: Searcher | None = None,
                 on_step: Callable[[int, int], None] | None = None, pacer: Pacer | None = None,
                 on_note: Callable[[str], None] | None = None) -> list[BatchResult]:
    """Step every question together (``lockstep.run_turns``): a backend that refills its batch
    keeps it full, any other answers in rounds of batched calls that the ``pacer`` splits
    where batching turns out slower than one question at a time (it says so once, through
    ``on_note``). ``on_step(steps_taken, questions_running)`` follows each step."""
    out = check_out_dir(out_dir)
    results: dict[str, BatchResult] = {}
    runs: dict[str, tuple[Question, Run, float]] = {}
    pool = BackendPool()
    batch_settings = config.to_dict(secrets=True)
    """The batch's settings apply to a resumed run too: one model serves every question."""
    for q in questions:
        folder = out / q.id
        settled = _settled(q, folder)
        if settled:
            results[q.id] = settled
            continue
        try:
            run = open_run(q.question, run_dir=folder / "run", config=config, backend=backend, searcher=searcher,
                           backends=pool, overrides=batch_settings)
            searcher = searcher or run.searcher
        except WarpError as exc:
            results[q.id] = BatchResult(q.id, q.question, "error", error=str(exc))
            continue
        runs[q.id] = (q, run, time.time())
    turns: dict[str, Turn] = {}
    taken = 0

    def drop(qid: str, row: BatchResult) -> None:
        results[qid] = row
        del runs[qid]
        turns.pop(qid, None)

    def stepped() -> None:
        nonlocal taken
        taken += 1
        if on_step:
            on_step(taken, len(runs))

    def next_request(qid: str) -> ChatRequest | None:
        """The question's next turn for the model; a turn refused before the model (a prompt
        that cannot fit) is completed here at once, and a finished question written out."""
        q, run, started = runs[qid]
        try:
            while True:
                turn = run.prepare()
                if turn is None:
                    run.finish(_report_files(out / q.id))
                    drop(qid, _result_from_run(q, run, out / q.id, started))
                    return None
                offline = turn.offline()
                if offline is None:
                    turns[qid] = turn
                    return turn.request
                run.complete(turn, offline)
                stepped()
        except Exception as exc:  # one question failing must not stop the others
            error = describe(exc)
            drop(qid, BatchResult(q.id, q.question, "error", run.state.step, error=error))
            return None

    def answered(qid: str, completion: Completion) -> ChatRequest | None:
        q, run, started = runs[qid]
        try:
            run.complete(turns.pop(qid), completion)
        except Exception as exc:  # one question crashing must not stop the others
            drop(qid, BatchResult(q.id, q.question, "error", run.state.step, error=f"{type(exc).__name__}: {exc}"))
            return None
        stepped()
        return next_request(qid)

    first = {qid: request for qid in list(runs) if (request := next_request(qid)) is not None}
    if first:
        model = backend or runs[next(iter(first))][1].backend
        try:
            run_turns(model, first, answered, pacer or Pacer(on_note=on_note),
                      generate=lambda requests: _generate(model, list(requests)))
        except WarpError as exc:  # no model to ask: every running question stops, saved and resumable
            for qid, (q, run, started) in list(runs.items()):
                row = _result_from_run(q, run, out / q.id, started)
                row.status, row.error = "failed", f"{exc}; the run is saved: run the batch again to resume it"
                drop(qid, row)
    return [results[q.id] for q in questions if q.id in results]


def run_papermill(questions: Sequence[Question], config: WarpConfig, out_dir: str | Path, *,
                  template: str | Path | None = None, parallel: int = 1, kernel_name: str | None = None,
                  on_done: Callable[[BatchResult], None] | None = None) -> list[BatchResult]:
    """Execute the template notebook once per question, ``parallel`` at a time."""
    import papermill

    template = Path(template or DEFAULT_TEMPLATE)
    if not template.is_file():
        raise ConfigError(f"no notebook template at {template}: pass --notebook PATH")
    out = check_out_dir(out_dir)

    def one(q: Question) -> BatchResult:
        try:
            return attempt(q)
        except Exception as exc:  # one question crashing must not stop the others
            error = describe(exc)
            return BatchResult(q.id, q.question, "error", output=str(out / q.id), error=error)

    def attempt(q: Question) -> BatchResult:
        folder = out / q.id
        settled = _settled(q, folder)
        if settled:
            return settled
        folder.mkdir(parents=True, exist_ok=True)
        started = time.time()
        notebook = folder / "executed.ipynb"
        params = {"question": q.question, "index": config.index, "model": config.model,
                  "max_steps": config.max_steps, "max_extends": config.max_extends,
                  "out_dir": str(folder.resolve()), "config_json": json.dumps(config.to_dict())}
        error = ""
        try:
            papermill.execute_notebook(str(template), str(notebook), parameters=params, kernel_name=kernel_name,
                                       progress_bar=False, cwd=str(Path.cwd()))
        except Exception as exc:  # papermill keeps the partial notebook; report and go on
            error = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        if peek(folder / "run") is not None:
            result = _result_from_run(q, Run.load(folder / "run"), folder, started)
            result.output = str(notebook)
            if error:
                result.status, result.error = "failed", error
        else:
            result = BatchResult(q.id, q.question, "failed", seconds=round(time.time() - started, 2),
                                 output=str(notebook), error=error or "the notebook wrote no run")
        return result

    results: list[BatchResult] = []
    with _secrets_for_kernels(config), ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for result in pool.map(one, questions):
            results.append(result)
            if on_done:
                on_done(result)
    return results


@contextmanager
def _secrets_for_kernels(config: WarpConfig) -> Iterator[None]:
    """An ``api_key`` backend option reaches the kernels papermill starts as
    ``$OPENAI_API_KEY`` (their environment), never as a parameter, which the executed
    notebook would record."""
    key = config.backend_options.get("api_key")
    if not key:
        yield
        return
    before = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = str(key)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OPENAI_API_KEY", None)
        else:
            os.environ["OPENAI_API_KEY"] = before


def run_batch(questions: str | Path | Iterable[Question | str], *, config: WarpConfig | None = None,
              out_dir: str | Path = "out/batch", lockstep: bool = False, notebook: str | Path | None = None,
              parallel: int = 1, backend: Backend | None = None, searcher: Searcher | None = None,
              kernel_name: str | None = None) -> list[BatchResult]:
    """Run many questions; returns one row per question (bad input lines included)."""
    config = config or WarpConfig()
    problems: list[BatchResult] = []
    if isinstance(questions, (str, Path)):
        loaded = load_questions(questions)
        qs, problems = loaded.questions, loaded.problems
    else:
        qs = [q if isinstance(q, Question) else Question(f"q{i}", q) for i, q in enumerate(questions, 1)]
    if lockstep:
        rows = run_lockstep(qs, config, out_dir, backend=backend, searcher=searcher)
    else:
        rows = run_papermill(qs, config, out_dir, template=notebook, parallel=parallel, kernel_name=kernel_name)
    return problems + rows
