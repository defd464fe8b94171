"""``evaluate``: the one entry point behind ``jupyter-warp eval`` and the notebook.

Model-free metrics always; with a judge, RACE (given criteria and a reference), FACT
(reports that cite passages) and pairwise comparison (two sides). A judge that fails
midway (a dead server) leaves a result that holds everything measured so far and says why
it is incomplete, so nothing already computed is lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import ConfigError, WarpError
from ..llm.base import Backend
from . import fact as F
from . import pairwise as P
from . import race as R
from .instructions import instruction_phrases
from .judge import Ask, Judge, Judgement, build_judge
from .metrics import THRESHOLD, report_metrics
from .records import ReportRecord
from .sources import load_groups

Source = str | Path | ReportRecord


@dataclass
class ReportEval:
    """One report's evaluation."""

    record: ReportRecord
    metrics: dict[str, Any]
    sections: list[dict[str, Any]]
    copied_phrases: list[str]
    eval_s: float
    """Seconds the model-free metrics took."""
    race: dict[str, Any] | None = None
    fact: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report's part of the ``--out`` JSON."""
        return {"report": self.record.summary(), "metrics": self.metrics, "sections": self.sections,
                "copied_phrases": self.copied_phrases, "eval_s": round(self.eval_s, 3), "race": self.race,
                "fact": self.fact, "notes": self.notes}


@dataclass
class EvalResult:
    """Every report's evaluation, the pairwise comparison, and every judgement made."""

    reports: list[ReportEval]
    threshold: float = THRESHOLD
    judge: str | None = None
    judgements: list[Judgement] = field(default_factory=list)
    pairwise: dict[str, Any] | None = None
    instruction_files: list[str] = field(default_factory=list)
    incomplete: str | None = None
    """Why the judging stopped early, if it did."""

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON, what ``save`` writes."""
        return {"threshold": self.threshold, "judge": self.judge, "incomplete": self.incomplete,
                "instruction_templates": self.instruction_files, "reports": [r.to_dict() for r in self.reports],
                "pairwise": self.pairwise, "judgements": [j.to_dict() for j in self.judgements]}

    def save(self, path: str | Path) -> Path:
        """Write the whole result as JSON (written whole to a temporary file, then renamed)."""
        out = Path(path).expanduser()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(out)
        return out

    def table(self) -> str:
        """The terminal view (also the result's repr in a notebook)."""
        from .compare import text_report

        return text_report(self)

    def __repr__(self) -> str:
        return self.table()


def _ask(judge: Judge, asks: list[Ask], what: str, progress: bool) -> list[Judgement]:
    bar = tqdm(total=len(asks), desc=what, unit="judgement", disable=not progress or not asks)
    try:
        return judge.ask(asks, on_done=bar.update)
    finally:
        bar.close()


def evaluate(sources: Sequence[Source], *, judge: str | Backend | None = None, criteria: str | Path | None = None,
             reference: str | Path | None = None, pairwise: bool = False, threshold: float = THRESHOLD,
             instructions: Iterable[str | Path] = (), judge_max_tokens: int = 512, judge_context: int | None = None,
             fact_max: int = 40, progress: bool = False) -> EvalResult:
    """Evaluate run directories, folders of runs, submission files or ``ReportRecord``s.

    ``judge`` is a backend spec (``openai:URL``, ``smollm2``...) or a ``Backend``;
    ``criteria`` and ``reference`` (DeepResearch Bench files) turn on RACE; ``pairwise``
    compares the first source with the second. ``instructions`` adds template folders to
    the copy detection (the package's own templates and a run's ``prompts_dir`` are always read).
    """
    if criteria and not reference:
        raise ConfigError("RACE scores a report against a reference report: give --reference FILE with --criteria")
    if (criteria or pairwise) and judge is None:
        raise ConfigError("RACE and pairwise comparison need a judge: give --judge SPEC (e.g. openai:URL or smollm2)")
    if not 0 < threshold <= 1:
        raise ConfigError(f"the support threshold must be above 0 and at most 1, got {threshold}")
    groups = load_groups(sources)
    if pairwise and len(groups) != 2:
        raise ConfigError(f"pairwise comparison takes exactly two sources (side A and side B), got {len(groups)}")
    pairs = P.pair_reports(groups[0], groups[1]) if pairwise else []
    if pairwise and not pairs:
        raise ConfigError("pairwise comparison found no question answered on both sides "
                          "(reports are paired by benchmark id or by the question's text)")
    tasks = R.load_criteria(criteria) if criteria else []
    references = R.load_references(reference) if reference else []
    extra = list(instructions)
    reports = []
    files: set[str] = set()
    for record in (r for group in groups for r in group):
        started = time.perf_counter()
        phrases = instruction_phrases(extra + ([record.prompts_dir] if record.prompts_dir else []))
        files.update(phrases.files)
        data = report_metrics(record, phrases, threshold)
        reports.append(ReportEval(record, data["metrics"], data["sections"], data["copied_phrases"],
                                  time.perf_counter() - started))
    result = EvalResult(reports, threshold, instruction_files=sorted(files))
    if judge is None:
        return result
    built = build_judge(judge, judge_max_tokens, judge_context)
    result.judge = built.name
    result.judgements = built.judgements
    try:
        _judge_all(built, result, tasks, references, fact_max, progress)
        if pairwise:
            asks = [a for x, y in pairs for a in P.pairwise_asks(built, x, y)]
            names = (groups[0][0].group or "A", groups[1][0].group or "B")
            result.pairwise = P.pairwise_result(pairs, _ask(built, asks, "pairwise", progress), names)
    except WarpError as exc:
        result.incomplete = str(exc)
    return result


def _judge_all(judge: Judge, result: EvalResult, tasks: list[R.TaskCriteria], references: list[R.Reference],
               fact_max: int, progress: bool) -> None:
    if tasks:
        planned: list[tuple[ReportEval, R.TaskCriteria, list[Ask]]] = []
        for report in result.reports:
            task = R.match_task(report.record, tasks)
            ref = R.reference_for(report.record, references)
            if task is None or ref is None:
                report.notes.append("RACE skipped: no " + ("criteria" if task is None else "reference report")
                                    + " for this question")
                continue
            planned.append((report, task, R.race_asks(judge, report.record, task, ref)))
        done = _ask(judge, [a for _, _, asks in planned for a in asks], "RACE", progress)
        for report, task, asks in planned:
            report.race, done = R.race_result(task, done[:len(asks)]), done[len(asks):]
    if fact_max > 0:
        fact_plan: list[tuple[ReportEval, int, list[Ask]]] = []
        for report in result.reports:
            if not report.record.passages:
                continue
            asks, pairs = F.fact_asks(judge, report.record, fact_max)
            fact_plan.append((report, pairs, asks))
        done = _ask(judge, [a for _, _, asks in fact_plan for a in asks], "FACT", progress)
        for report, pairs, asks in fact_plan:
            report.fact, done = F.fact_result(done[:len(asks)], pairs), done[len(asks):]
