"""RACE-style scoring (DeepResearch Bench): a report against a reference report, on the
benchmark's task-specific criteria.

For each dimension (comprehensiveness, insight, instruction following, readability) the
judge scores every criterion 0 to 10 for both the target report and the reference, in one
reply. Within a dimension, each side's score is the criterion-weighted mean over the
criteria the judge scored; over dimensions, each side's total is the dimension-weighted
sum; the overall score is ``100 * target / (target + reference)`` (50 means as good as the
reference, which is also the score when both get 0). Per dimension, ``score`` is the same
ratio of that dimension's means. No criterion scored at all: None.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..machine.gbnf import lit
from . import text as T
from .judge import Ask, Judge, Judgement, ParseError, Parser, reply_json
from .records import ReportRecord
from .sources import read_jsonl

DIMENSION_LABELS = {
    "en": {"comprehensiveness": "Comprehensiveness", "insight": "Insight and depth",
           "instruction_following": "Instruction following", "readability": "Readability"},
    "zh": {"comprehensiveness": "全面性", "insight": "洞察力与深度", "instruction_following": "指令遵循",
           "readability": "可读性"},
}


@dataclass
class Criterion:
    """One scoring criterion of a RACE dimension, with its weight."""

    criterion: str
    explanation: str = ""
    weight: float = 1.0


@dataclass
class TaskCriteria:
    """One task's criteria row (``criteria.jsonl`` of DeepResearch Bench)."""

    task_id: str | None
    prompt: str
    dimension_weight: dict[str, float]
    criteria: dict[str, list[Criterion]] = field(default_factory=dict)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _criterions(value: Any, where: str) -> dict[str, list[Criterion]]:
    """The ``criterions`` field: a JSON object, or the Python literal the benchmark's file stores."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ConfigError(f"{where}: 'criterions' is neither an object nor a readable literal") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: 'criterions' must map each dimension to a list of criteria")
    out = {}
    for dim, items in value.items():
        out[dim] = [Criterion(str(c["criterion"]), str(c.get("explanation", "")), float(c.get("weight", 1.0)))
                    for c in items if isinstance(c, dict) and "criterion" in c]
    return out


def load_criteria(path: str | Path) -> list[TaskCriteria]:
    """Criteria rows ``{"id", "prompt", "dimension_weight", "criterions"}``, one a line."""
    tasks = []
    for n, row in enumerate(read_jsonl(path, "a criteria file"), 1):
        where = f"{path} row {n}"
        if "prompt" not in row or "criterions" not in row:
            raise ConfigError(f"{where}: a criteria row needs 'prompt' and 'criterions' (DeepResearch Bench's format)")
        weights = {k: float(v) for k, v in (row.get("dimension_weight") or {}).items()}
        criteria = _criterions(row["criterions"], where)
        tasks.append(TaskCriteria(str(row["id"]) if row.get("id") is not None else None, str(row["prompt"]),
                                  weights or {dim: 1.0 / len(criteria) for dim in criteria}, criteria))
    return tasks


def match_task(record: ReportRecord, rows: list[Any]) -> Any | None:
    """The row (criteria or reference) for a report: by task id, else by the question's text."""
    for row in rows:
        if record.task_id is not None and getattr(row, "task_id", None) == record.task_id:
            return row
    query = _norm(record.query)
    for row in rows:
        if _norm(getattr(row, "prompt", "")) == query:
            return row
    return None


@dataclass
class Reference:
    """The reference report a RACE judgement compares against."""

    task_id: str | None
    prompt: str
    article: str


def load_references(path: str | Path) -> list[Reference]:
    """Reference reports: a submission-format ``.jsonl`` (matched by id or question), or
    one Markdown or text file used for every report."""
    file = Path(path).expanduser()
    if file.suffix == ".jsonl":
        return [Reference(str(r["id"]) if r.get("id") is not None else None, str(r.get("prompt", "")),
                          str(r.get("article", ""))) for r in read_jsonl(file, "a reference file")]
    try:
        return [Reference(None, "", file.read_text(encoding="utf-8"))]
    except OSError as exc:
        raise ConfigError(f"cannot read the reference report {file}: {exc.strerror or exc}") from None


def reference_for(record: ReportRecord, references: list[Reference]) -> Reference | None:
    """The reference for a report: the one file given for all, else matched by id or question."""
    if len(references) == 1 and not references[0].prompt and references[0].task_id is None:
        return references[0]
    found = match_task(record, references)
    return found if isinstance(found, Reference) else None


def scores_grammar(count: int) -> str:
    """Exactly ``count`` items, criterion numbers in order, scores 0 to 10."""
    items = ' ", " '.join(f"item{i}" for i in range(1, count + 1))
    rules = [f'root ::= "{{\\"scores\\": [" {items} "]}}"',
             'score ::= "10" | [0-9] ("." [0-9])?']
    for i in range(1, count + 1):
        head = lit(f'{{"criterion": {i}, "target": ')
        rules.append(f'item{i} ::= {head} score ", \\"reference\\": " score "}}"')
    return "\n".join(rules)


_LINE = re.compile(r"(\d+)\D+?(\d+(?:\.\d+)?)\D+?(\d+(?:\.\d+)?)")


def _number(value: Any) -> float:
    number = float(value)
    if not 0 <= number <= 10:
        raise ValueError(f"score {number} is outside 0 to 10")
    return number


def parse_scores(reply: str, criteria: list[Criterion]) -> dict[int, tuple[float, float]]:
    """``{criterion number: (target, reference)}`` from a reply; JSON first (``target`` /
    ``reference``, or the benchmark's ``article_1_score`` / ``article_2_score``, criteria
    by number or by text), then lines of three numbers."""
    found: dict[int, tuple[float, float]] = {}
    try:
        data = reply_json(reply)
        items = data.get("scores", data) if isinstance(data, dict) else data
        if isinstance(items, dict):
            items = next((v for v in items.values() if isinstance(v, list)), [])
        texts = {_norm(c.criterion).lower(): i for i, c in enumerate(criteria, 1)}
        for position, item in enumerate(items if isinstance(items, list) else [], 1):
            if not isinstance(item, dict):
                continue
            label = item.get("criterion", position)
            number = int(label) if str(label).strip().isdigit() else texts.get(_norm(str(label)).lower())
            target = item.get("target", item.get("article_1_score", item.get("target_score")))
            reference = item.get("reference", item.get("article_2_score"))
            if number and 1 <= number <= len(criteria) and target is not None and reference is not None:
                try:
                    found[number] = (_number(target), _number(reference))
                except (TypeError, ValueError):
                    continue
    except ParseError:
        pass
    if not found:
        for match in _LINE.finditer(reply):
            number = int(match.group(1))
            if 1 <= number <= len(criteria) and number not in found:
                try:
                    found[number] = (_number(match.group(2)), _number(match.group(3)))
                except ValueError:
                    continue
    if not found:
        raise ParseError("no criterion scores in the reply")
    return found


def race_score(task: TaskCriteria, scores: dict[str, dict[int, tuple[float, float]]]) -> dict[str, Any]:
    """The arithmetic of RACE (module doc) on ``{dimension: {criterion number: (target, reference)}}``."""
    dims: dict[str, Any] = {}
    target_total = reference_total = 0.0
    for dim, criteria in task.criteria.items():
        got = {i: s for i, s in scores.get(dim, {}).items() if 1 <= i <= len(criteria)}
        weight = sum(criteria[i - 1].weight for i in got)
        if not got or weight <= 0:
            dims[dim] = {"target": None, "reference": None, "score": None, "scored": 0, "criteria": len(criteria)}
            continue
        target = sum(criteria[i - 1].weight * t for i, (t, _) in got.items()) / weight
        reference = sum(criteria[i - 1].weight * r for i, (_, r) in got.items()) / weight
        dims[dim] = {"target": target, "reference": reference,
                     "score": 100 * target / (target + reference) if target + reference else 50.0,
                     "scored": len(got), "criteria": len(criteria)}
        dim_weight = task.dimension_weight.get(dim, 0.0)
        target_total += dim_weight * target
        reference_total += dim_weight * reference
    total = target_total + reference_total
    overall = (100 * target_total / total if total else 50.0) if any(d["scored"] for d in dims.values()) else None
    return {"overall": overall, "target_total": target_total, "reference_total": reference_total, "dimensions": dims}


def race_asks(judge: Judge, record: ReportRecord, task: TaskCriteria, reference: Reference) -> list[Ask]:
    """One judgement per dimension, both reports in the prompt, shortened to fit."""
    language = T.language_of(record.query) or "en"
    labels = DIMENSION_LABELS[language]
    asks = []
    for dim, criteria in task.criteria.items():
        if not criteria:
            continue
        prompt, cut = judge.fit(
            "race", {"target": T.clean_article(record.article), "reference": T.clean_article(reference.article)},
            task=record.query, dimension=labels.get(dim, dim.replace("_", " ")), language=language,
            criteria=[{"n": i, "criterion": c.criterion, "explanation": c.explanation}
                      for i, c in enumerate(criteria, 1)],
        )
        asks.append(Ask("race", f"{record.label} / {dim}", prompt, judge.grammar(scores_grammar(len(criteria))),
                        _scores_parser(criteria), truncated=cut))
    return asks


def _scores_parser(criteria: list[Criterion]) -> Parser:
    return lambda reply: parse_scores(reply, criteria)


def race_result(task: TaskCriteria, judgements: list[Judgement]) -> dict[str, Any]:
    """Scores from the dimension judgements (in ``task.criteria`` order), with their ids."""
    dims = [d for d, cs in task.criteria.items() if cs]
    scores = {dim: j.parsed for dim, j in zip(dims, judgements, strict=True) if j.parsed}
    result = race_score(task, scores)
    result["task_id"] = task.task_id
    result["judgements"] = [j.id for j in judgements]
    result["errors"] = [f"{dim}: {j.error}" for dim, j in zip(dims, judgements, strict=True) if j.error]
    return result
