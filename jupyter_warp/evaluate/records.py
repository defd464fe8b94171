"""What evaluation reads: one typed record per report, whatever produced it.

A run directory and a line of a DeepResearch Bench submission file both become a
``ReportRecord`` (``sources.py``); every metric, judge, comparison and export works on these
records only, so nothing here depends on how the engine lays out a run on disk.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SourcePassage:
    """A passage a report may cite: its text and where it came from."""

    key: int
    text: str
    location: str = ""
    doc: str = ""
    """The document it belongs to (a file path or a URL): the unit of source diversity."""


@dataclass
class Section:
    """One node of the report tree, in pre-order."""

    position: str
    """``section-2.1``."""
    title: str
    depth: int
    text: str = ""
    status: str = "written"
    """``written``, ``planned`` or ``failed`` (runs); submissions are all ``written``."""
    shown: list[int] | None = None
    """Passage keys shown to the writer of this section; None when not known (a
    submission, or a section a user typed in)."""


@dataclass
class StepRecord:
    """One model turn of a run, as the timeline and the training-data export need it."""

    index: int
    state: str
    position: str | None
    prompt: str
    reply: str
    accepted: bool
    error: str | None = None
    action: str | None = None
    """The action's name (``search``, ``write``...), when the reply was accepted."""
    text: str = ""
    """For an accepted write: the section text as the report received it (``[k]`` citations)."""
    keys: list[int] = field(default_factory=list)
    """Passage keys shown to (write, init_plan) or found by (search) this step."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


@dataclass
class ReportRecord:
    """A report to evaluate, with whatever its producer recorded about it."""

    id: str
    kind: str
    """``run`` (a run directory) or ``submission`` (a DeepResearch Bench JSONL line)."""
    source: str
    """The path it was read from."""
    query: str
    title: str = ""
    sections: list[Section] = field(default_factory=list)
    article: str = ""
    """The whole report as Markdown, as a judge reads it."""
    passages: dict[int, SourcePassage] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    group: str = ""
    """The command-line source it came from; comparisons group reports by it."""
    task_id: str | None = None
    """The benchmark task id, when known (a submission's ``id``)."""
    extend_count: int | None = None
    finished: bool | None = None
    prompts_dir: str | None = None
    """A run's own prompt templates (its ``prompts_dir`` setting), for copy detection."""

    @property
    def label(self) -> str:
        """A short name for tables: the task id for submissions, the run id for runs."""
        return f"{self.group}:{self.id}" if self.group and self.kind == "submission" else self.id

    def summary(self) -> dict[str, Any]:
        """The record's identity and counts, without texts (for the JSON output)."""
        data = asdict(self)
        for key in ("sections", "article", "passages", "steps"):
            data.pop(key)
        data["steps"] = len(self.steps)
        data["passages"] = len(self.passages)
        return data
