"""A run on disk, read and written by the run driver alone.

``state.json`` is replaced atomically after every step; ``steps.jsonl``, ``passages.jsonl``
and ``edits.jsonl`` are appended. A step counts as completed once ``state.json`` names it:
its passages and its step line are appended before the state is replaced, so a process
killed at any point leaves at most lines past the state (a torn last line included), which
the next open drops. A lock file keeps two processes from stepping one run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock

from .citations import CitationRegistry
from .errors import RunError, describe
from .records import Passage, Step
from .state import RunState

STATE, STEPS, PASSAGES, EDITS, LOCK = "state.json", "steps.jsonl", "passages.jsonl", "edits.jsonl", ".lock"
DAMAGED_HINT = "restore the file, or research the question again in another run folder (nothing here is changed)"


@dataclass
class RunInfo:
    """What a run directory holds, read without loading the run."""

    question: str
    status: str
    step: int
    counters: dict[str, int]


def check_writable(path: str | Path) -> Path:
    """Refuse an output path that cannot become a file (a folder, a file in the way of its
    folder, a folder that cannot be written), so that a run fails before it starts."""
    path = Path(path)
    if path.is_dir():
        raise RunError(f"{path} is a folder: give a file name such as {path / 'report.md'}")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise RunError(f"cannot write {path}: {parent} is a file, not a folder; give another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunError(f"cannot write {path}: the folder {parent} is not writable; give another path")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it (never a half file, and
    no temporary file left behind when the write fails)."""
    check_writable(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None


def _lines(path: Path) -> list[bytes]:
    """The complete lines of a file (a torn last line, without its newline, is left out)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].splitlines(keepends=True)


def _keep(path: Path, lines: list[bytes]) -> None:
    """Cut ``path`` back to ``lines`` (its first complete lines), if it holds more."""
    size = sum(len(line) for line in lines)
    if path.exists() and path.stat().st_size != size:
        with path.open("r+b") as f:
            f.truncate(size)


class RunDir:
    """The files of one run."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._saved_passages: int | None = None
        self._stamp: tuple[int, int] | None = None
        """``state.json``'s (mtime, size) as this object last wrote or read it."""
        self._lock = filelock.FileLock(str(self.path / LOCK), timeout=0, thread_local=False)

    def exists(self) -> bool:
        """Whether a run is saved here (a ``state.json``)."""
        return (self.path / STATE).is_file()

    def check_usable(self) -> None:
        """Refuse, with one line, a path that is a file rather than a run folder."""
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"{self.path} is a file, not a run folder: pick another --run-dir")

    def create(self) -> None:
        """Make the folder of a new run; a folder that already holds one is refused."""
        self.check_usable()
        if self.exists():
            raise RunError(f"{self.path} already holds a run: resume it with `jupyter-warp run --resume {self.path}` "
                           "or pick another --run-dir")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / STEPS).touch()
        except OSError as exc:
            raise RunError(f"cannot create the run folder {self.path}: {exc.strerror or exc}") from None
        self._saved_passages = 0

    # Reading.
    def read_json(self) -> dict[str, Any]:
        """The saved state as JSON; a missing or unreadable file raises RunError saying what to do."""
        self.check_usable()
        state_file = self.path / STATE
        if not state_file.is_file():
            raise RunError(f"no run at {self.path} (no {STATE}): start one with `jupyter-warp run QUESTION`")
        try:
            data = json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"{state_file} is unreadable ({exc}); {DAMAGED_HINT}") from None
        if not isinstance(data, dict):
            raise RunError(f"{state_file} does not hold a run state (a JSON object); {DAMAGED_HINT}")
        return data

    def info(self) -> RunInfo | None:
        """The question and status, or None when there is no readable run here."""
        try:
            data = self.read_json()
            return RunInfo(str(data["query"]), str(data.get("status", "running")), int(data.get("step", 0)),
                           {str(k): int(v) for k, v in dict(data.get("counters", {})).items()})
        except (RunError, KeyError, TypeError, ValueError):
            return None

    def load(self, repair: bool = False) -> RunState:
        """The saved state with its passages; ``repair`` drops what an unfinished step appended."""
        data = self.read_json()
        count = data.get("registry_size", 0)
        passage_lines = _lines(self.path / PASSAGES)
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= len(passage_lines):
            raise RunError(f"{self.path / PASSAGES} holds {len(passage_lines)} passages, {STATE} expects {count}: "
                           f"the run folder is damaged; {DAMAGED_HINT}")
        try:
            passages = [Passage.from_dict(json.loads(line)) for line in passage_lines[:count]]
        except Exception as exc:  # any malformed record: the file, not the code, is at fault
            raise RunError(f"{self.path / PASSAGES} is damaged ({type(exc).__name__}: {exc}); "
                           f"{DAMAGED_HINT}") from None
        try:
            state = RunState.from_dict(data, CitationRegistry.from_list(passages))
        except Exception as exc:
            reason = describe(exc)
            raise RunError(f"{self.path / STATE} is not a valid run state ({reason}); {DAMAGED_HINT}") from None
        if state.step < 0:
            raise RunError(f"{self.path / STATE} names step {state.step}; {DAMAGED_HINT}")
        self._stamp = self._stat()
        if repair:
            _keep(self.path / PASSAGES, passage_lines[:count])
            _keep(self.path / STEPS, [line for line, _ in self._step_records(state.step)])
        self._saved_passages = count
        return state

    def _step_records(self, upto: int) -> list[tuple[bytes, dict[str, Any]]]:
        """The lines of steps up to ``upto`` with their records, up to the first line that is
        not a whole step (what an interrupted write left)."""
        kept = []
        for line in _lines(self.path / STEPS):
            try:
                record = json.loads(line)
                if record["index"] > upto:
                    break
            except (ValueError, KeyError, TypeError):
                break
            kept.append((line, record))
        return kept

    def steps(self, upto: int, lookup: Callable[[int], Passage]) -> list[Step]:
        """The completed steps' records, in order."""
        return [Step.from_dict(record, lookup) for _, record in self._step_records(upto)]

    # Writing.
    def save(self, state: RunState, step: Step | None = None) -> None:
        """New passages, then the step's line, then ``state.json`` replaced whole."""
        passages = list(state.registry.passages.values())
        if self._saved_passages is None:
            self._saved_passages = len(_lines(self.path / PASSAGES))
        if len(passages) > self._saved_passages:
            self._append(PASSAGES, [p.to_dict() for p in passages[self._saved_passages:]])
            self._saved_passages = len(passages)
        if step is not None:
            self._append(STEPS, [step.to_dict(passages=False)])
        write_atomic(self.path / STATE, json.dumps(state.to_dict(passages=False), ensure_ascii=False))
        self._stamp = self._stat()

    def log_edit(self, record: dict[str, Any]) -> None:
        """Append one user edit to ``edits.jsonl``."""
        self._append(EDITS, [record])

    def _append(self, name: str, records: list[dict[str, Any]]) -> None:
        path = self.path / name
        try:
            with path.open("ab") as f:
                f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8"))
        except OSError as exc:
            raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None

    # Stepping.
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Held while a step runs; another process (or run object) stepping this run fails."""
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise RunError(f"another process is stepping the run in {self.path}: wait for it to end, "
                           "or stop it first") from None
        except OSError as exc:
            raise RunError(f"cannot lock the run folder {self.path}: {exc.strerror or exc}") from None
        try:
            yield
        finally:
            self._lock.release()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = (self.path / STATE).stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def saved_step(self, mine: int) -> int:
        """The step ``state.json`` names now: ``mine`` when this object wrote it last, else
        what another process (or run object) has saved since."""
        if self._stamp is not None and self._stat() == self._stamp:
            return mine
        try:
            return int(self.read_json().get("step", 0))
        except (RunError, TypeError, ValueError):
            return -1
