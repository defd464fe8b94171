"""Runs as supervised fine-tuning data: each step a chat example, the prompt as the model
saw it and the reply it gave (the cold-start format of the reference system's training).

One JSON object a line: ``{"messages": [{"role": "user", ...}, {"role": "assistant", ...}],
"meta": {...}}``; chat-format loaders read ``messages`` and ignore ``meta``. Every step with
a reply is written unless ``accepted_only`` (then only replies the engine accepted).
``min_support`` keeps a write step only when the share of its cited sentences supported by
its own passages reaches it, and any other step only when its run's report does; a rejected
step has no accepted text, so it is dropped then too.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .compare import format_table
from .instructions import InstructionPhrases
from .metrics import THRESHOLD, ReportMetrics
from .records import ReportRecord, StepRecord
from .sources import load_sources

STATES = ("search", "init_plan", "write", "extend_plan")


@dataclass
class ExportSummary:
    """What was written: examples and tokens per state, and what was left out and why."""

    path: Path
    runs: int = 0
    by_state: dict[str, Counter[str]] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def examples(self) -> int:
        """Examples written, all states together."""
        return sum(c["examples"] for c in self.by_state.values())

    def add(self, step: StepRecord) -> None:
        """Count one written step under its state."""
        counts = self.by_state.setdefault(step.state, Counter())
        counts["examples"] += 1
        counts["rejected"] += not step.accepted
        counts["prompt_tokens"] += step.prompt_tokens
        counts["completion_tokens"] += step.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON."""
        return {"path": str(self.path), "runs": self.runs, "examples": self.examples,
                "by_state": {s: dict(c) for s, c in self.by_state.items()}, "skipped": dict(self.skipped)}

    def table(self) -> str:
        """Examples and tokens per state, as ``jupyter-warp export`` prints them."""
        keys = ("examples", "rejected", "prompt_tokens", "completion_tokens")
        order = [s for s in STATES if s in self.by_state] + sorted(set(self.by_state) - set(STATES))
        rows = [[s] + [str(self.by_state[s][k]) for k in keys] for s in order]
        rows.append(["total"] + [str(sum(c[k] for c in self.by_state.values())) for k in keys])
        lines = [format_table(["state", *keys], rows)]
        if self.skipped:
            lines.append("left out: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())))
        lines.append(f"{self.examples} examples from {self.runs} runs -> {self.path}")
        return "\n".join(lines)


def example(record: ReportRecord, step: StepRecord) -> dict[str, Any]:
    """One chat example with where it came from."""
    return {
        "messages": [{"role": "user", "content": step.prompt}, {"role": "assistant", "content": step.reply}],
        "meta": {"run_id": record.id, "step": step.index, "state": step.state, "position": step.position,
                 "accepted": step.accepted, "error": step.error},
    }


def _keep(step: StepRecord, accepted_only: bool, min_support: float | None, metrics: ReportMetrics,
          report_support: float | None) -> str | None:
    """None to keep the step, else why it is left out."""
    if not step.prompt.strip() or not step.reply.strip():
        return "without a reply"
    if not step.accepted and (accepted_only or min_support is not None):
        return "rejected"
    if min_support is None:
        return None
    if step.state == "write":
        share = metrics.text_support(step.text, step.keys)
    else:
        share = report_support
    return None if share is not None and share >= min_support else "below --min-support"


def export_sft(sources: Iterable[str | Path | ReportRecord], out: str | Path, *, accepted_only: bool = False,
               min_support: float | None = None, threshold: float = THRESHOLD) -> ExportSummary:
    """Write the chat examples of every run in ``sources`` to ``out`` (JSONL)."""
    if min_support is not None and not 0 <= min_support <= 1:
        raise ConfigError(f"--min-support is a share from 0 to 1, got {min_support}")
    records = load_sources(sources)
    submissions = [r.source for r in records if r.kind != "run"]
    if submissions:
        raise ConfigError(f"{submissions[0]} holds finished reports, not runs: export reads run directories, "
                          "whose steps hold the prompts and replies")
    path = Path(out).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary(path)
    no_phrases = InstructionPhrases(frozenset())
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            summary.runs += 1
            metrics = ReportMetrics(record, no_phrases, threshold)
            report_support = None
            if min_support is not None:
                report_support = metrics.run()["metrics"]["supported_share"]
            for step in record.steps:
                why = _keep(step, accepted_only, min_support, metrics, report_support)
                if why:
                    summary.skipped[why] += 1
                    continue
                fh.write(json.dumps(example(record, step), ensure_ascii=False) + "\n")
                summary.add(step)
    tmp.replace(path)
    return summary
