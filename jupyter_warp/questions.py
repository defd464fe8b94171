"""A batch's questions file and its summary: the rows every batch path reports.

``load_questions`` reads JSONL lines ``{"id": ..., "question": ...}`` (``prompt`` is read as
the question, as in DeepResearch Bench); a bad line or a duplicate id becomes an error row.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass
class Question:
    """One line of a questions file; ``id`` names the question's output folder."""

    id: str
    question: str


@dataclass
class BatchResult:
    """One row of the summary table."""

    id: str
    question: str
    status: str = "pending"
    """``done``, ``failed``, ``skipped`` (already done), ``error`` (bad input or crash)."""
    steps: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    output: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON, for the batch's results file."""
        return asdict(self)


@dataclass
class QuestionFile:
    """A parsed questions file: the usable questions and the lines that were not."""

    questions: list[Question] = field(default_factory=list)
    problems: list[BatchResult] = field(default_factory=list)
    """Lines that could not be used, each reported as an ``error`` row."""


MAX_ID_CHARS = 80
"""Longest folder name a question id becomes (file systems allow 255 bytes)."""


def _safe_id(raw: str, digest: bool = False) -> str:
    """A folder name for an id: safe characters only, at most ``MAX_ID_CHARS``; an id that had
    to be cut or emptied (or, ``digest``, that another id's folder name took) ends with a
    digest of the whole, so that two ids never share a folder."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-.")
    if safe and len(safe) <= MAX_ID_CHARS and not digest:
        return safe
    mark = hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{safe[:MAX_ID_CHARS - 11].rstrip('-.')}-{mark}".lstrip("-")


def load_questions(path: str | Path) -> QuestionFile:
    """Read JSONL lines ``{"id": ..., "question": ...}`` (``prompt`` is read as the question,
    as in DeepResearch Bench); a bad line or a duplicate id becomes an error row."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no questions file at {path}: give a JSONL file with one {{\"id\", \"question\"}} per line")
    try:
        data_bytes = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the questions file {path}: {exc.strerror or exc}") from None
    out = QuestionFile()
    raw_ids: set[str] = set()
    folders: dict[str, str] = {}
    """Folder name (case-folded, as on macOS and Windows) -> the id that has it."""
    for n, raw in enumerate(data_bytes.removeprefix(codecs.BOM_UTF8).split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            out.problems.append(BatchResult(f"line-{n}", "", "error",
                                            error=f"line {n} is not valid UTF-8: save the questions file as UTF-8"))
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            out.problems.append(BatchResult(f"line-{n}", line[:60], "error",
                                            error=f"line {n} is not valid JSON: {exc}"))
            continue
        question = data.get("question") or data.get("prompt") or ""
        raw_id = data.get("id")
        raw_id = f"q{n}" if raw_id is None else raw_id
        if not isinstance(raw_id, (str, int, float)) or isinstance(raw_id, bool):
            out.problems.append(BatchResult(f"line-{n}", str(question)[:60], "error",
                                            error=f"line {n}: the id must be a string or a number"))
            continue
        raw_id = str(raw_id)
        qid = _safe_id(raw_id)
        if folders.get(qid.casefold(), raw_id) != raw_id:  # another id makes the same folder name
            qid = _safe_id(raw_id, digest=True)
        if not isinstance(question, str) or not question.strip():
            out.problems.append(BatchResult(qid, "", "error", error=f"line {n} has no question (a non-empty string)"))
        elif raw_id in raw_ids:
            out.problems.append(BatchResult(qid, question, "error", error=f"line {n}: duplicate id {raw_id[:80]}"))
        else:
            raw_ids.add(raw_id)
            folders[qid.casefold()] = raw_id
            out.questions.append(Question(qid, question.strip()))
    return out


def check_out_dir(out_dir: str | Path) -> Path:
    """The batch's output folder, refused before any work when it cannot be one."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out-dir {out} is a file: give a folder for the questions' reports")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    return out


def write_summary(results: Sequence[BatchResult], out_dir: str | Path) -> Path:
    """``OUT_DIR/summary.json``: every row, bad input lines included."""
    path = Path(out_dir) / "summary.json"
    try:
        path.write_text(json.dumps([r.to_dict() for r in results], indent=1, ensure_ascii=False), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def summary_table(results: Sequence[BatchResult]) -> str:
    """A fixed-width table: question, status, steps, tokens, time, output path."""
    head = f"{'id':<14} {'status':<8} {'steps':>5} {'tokens in/out':>15} {'time s':>8}  output / error"
    lines = [head, "-" * len(head)]
    for r in results:
        tail = r.error if r.error else r.output
        lines.append(f"{r.id[:14]:<14} {r.status:<8} {r.steps:>5} {f'{r.tokens_in}/{r.tokens_out}':>15} "
                     f"{r.seconds:>8.1f}  {tail}")
    ok = sum(r.status in ("done", "skipped") for r in results)
    failed = [r.id for r in results if r.status not in ("done", "skipped")]
    lines.append(f"{ok} of {len(results)} questions done" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return "\n".join(lines)
