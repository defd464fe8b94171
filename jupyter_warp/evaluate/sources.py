"""Reports to evaluate, from run directories and DeepResearch Bench submission files.

``load_run`` is the only function here that knows the run driver (``jupyter_warp.runs``);
everything else reads ``ReportRecord``s. A submission file holds one
``{"id", "prompt", "article"}`` object a line (DeepResearch Bench's format), so any
system's reports can be scored the same way as this project's runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .records import ReportRecord, Section, SourcePassage, StepRecord

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a run (the driver says)."""
    from ..runs import peek

    return peek(path) is not None


def load_run(run_dir: str | Path, group: str = "") -> ReportRecord:
    """A run directory as a ``ReportRecord``: the one place that reads a run.

    A section's ``shown`` keys are those of the accepted write step whose text the section
    still holds (so a user's edits between steps do not mislead it); a section a user typed
    in has none and its citations are checked against every passage of the run.
    """
    from ..runs import Run

    run = Run.load(run_dir)
    state = run.state
    passages = {key: SourcePassage(key=key, text=p.text, location=p.location(), doc=p.path)
                for key, p in state.registry.passages.items()}
    steps: list[StepRecord] = []
    written: dict[str, list[int]] = {}
    for step in run.steps:
        action = step.action or {}
        text = str(action.get("text", "")) if step.ok and step.state == "write" else ""
        if text:
            written[text] = list(step.keys)
        steps.append(StepRecord(
            index=step.index, state=step.state, position=step.position, prompt=step.prompt, reply=step.reply,
            accepted=step.ok, error=step.error, action=action.get("name") if step.ok else None, text=text,
            keys=list(step.keys), prompt_tokens=step.prompt_tokens, completion_tokens=step.completion_tokens,
            latency_s=step.latency_s,
        ))
    sections = [Section(position=pos, title=node.title, depth=depth, text=node.text, status=node.status,
                        shown=written.get(node.text) if node.text else None)
                for pos, node, depth in state.report.walk()]
    return ReportRecord(
        id=state.run_id, kind="run", source=str(run_dir), query=state.query, title=state.report.title,
        sections=sections, article=run.snapshot().markdown, passages=passages, steps=steps, group=group,
        extend_count=state.extend_count, finished=state.finished, prompts_dir=state.config.prompts_dir,
    )


def read_jsonl(path: str | Path, what: str) -> list[dict[str, Any]]:
    """JSON objects, one a line; a bad line is a ConfigError naming the file and line."""
    file = Path(path).expanduser()
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {file}: {exc.strerror or exc}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{file}:{number}: not JSON ({exc.msg}); {what} holds one JSON object a line") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{file}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def markdown_sections(article: str) -> tuple[str, list[Section]]:
    """The title and the sections of a Markdown report, by its headings.

    A first line that is a level-1 heading is the title, and then later level-1 headings
    sit beside the level-2 ones (``# Title`` / ``## Section`` is the usual layout); the
    heading levels, in order, are depths 1, 2, 3...; text before the first heading is a
    depth-0 preamble.
    """
    lines = article.splitlines()
    heads: list[tuple[int, int, str]] = []
    fenced = False
    for i, line in enumerate(lines):
        if line.strip().startswith("```"):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            heads.append((i, len(match.group(1)), match.group(2).strip("*_ ")))
    title = ""
    first_text = next((i for i, line in enumerate(lines) if line.strip()), None)
    if heads and heads[0][1] == 1 and heads[0][0] == first_text:
        title = heads.pop(0)[2]
    if title:
        heads = [(i, max(level, 2), heading) for i, level, heading in heads]
    levels = sorted({level for _, level, _ in heads})
    sections: list[Section] = []
    start = (first_text + 1) if title and first_text is not None else 0
    preamble = "\n".join(lines[start:heads[0][0] if heads else len(lines)]).strip()
    if preamble:
        sections.append(Section(position="preamble", title="", depth=0, text=preamble))
    counters: list[int] = []
    for n, (i, level, heading) in enumerate(heads):
        depth = levels.index(level) + 1
        counters = (counters + [0] * depth)[:depth]
        counters[depth - 1] += 1
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        body = "\n".join(lines[i + 1:end]).strip()
        position = "section-" + ".".join(str(c or 1) for c in counters)
        sections.append(Section(position=position, title=heading, depth=depth, text=body))
    return title, sections


def load_submissions(path: str | Path, group: str = "") -> list[ReportRecord]:
    """Reports in DeepResearch Bench's submission format, one per line."""
    records = []
    for number, row in enumerate(read_jsonl(path, "a submission file"), 1):
        missing = [k for k in ("prompt", "article") if not isinstance(row.get(k), str)]
        if missing:
            raise ConfigError(f"{path}: report {number} lacks {', '.join(missing)}; "
                              'each line must be {"id": ..., "prompt": "...", "article": "..."}')
        title, sections = markdown_sections(row["article"])
        task_id = str(row["id"]) if row.get("id") is not None else None
        records.append(ReportRecord(
            id=task_id or str(number), kind="submission", source=str(path), query=row["prompt"], title=title,
            sections=sections, article=row["article"], group=group or Path(path).stem, task_id=task_id,
        ))
    return records


def _run_dirs(folder: Path) -> list[Path]:
    """Run directories at or under ``folder`` (a batch's ``OUT/<id>/run`` included), sorted."""
    from ..runs import find_runs

    return find_runs(folder)


def load_source(path: str | Path) -> list[ReportRecord]:
    """A run directory, a folder of runs, or a submission ``.jsonl`` file."""
    source = Path(path).expanduser()
    group = source.stem if source.suffix == ".jsonl" else source.name
    if source.is_file() and source.suffix in (".jsonl", ".json"):
        return load_submissions(source, group)
    if source.is_dir():
        if is_run_dir(source):
            return [load_run(source, group)]
        runs = _run_dirs(source)
        if runs:
            return [load_run(run, group) for run in runs]
    raise ConfigError(f"no run or report at {source}: give a run directory, a folder of runs, "
                      "or a submission .jsonl file ({\"id\", \"prompt\", \"article\"} a line)")


def load_groups(paths: Iterable[str | Path | ReportRecord]) -> list[list[ReportRecord]]:
    """The reports each path holds, one list a path, in order; records pass through unchanged."""
    groups = [[item] if isinstance(item, ReportRecord) else load_source(item) for item in paths]
    if not any(groups):
        raise ConfigError("nothing to evaluate: give at least one run directory or submission file")
    return groups


def load_sources(paths: Iterable[str | Path | ReportRecord]) -> list[ReportRecord]:
    """Every report the paths hold, in order."""
    return [record for group in load_groups(paths) for record in group]
