"""The state of one research question between two steps: what a checkpoint holds."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .citations import CitationRegistry
from .config import WarpConfig
from .errors import RunError
from .language import query_language
from .machine import Phase, RunStatus
from .records import Passage
from .report import Report

COUNTERS = ("searches", "writes", "extends", "failed_steps", "tokens_in", "tokens_out", "removed_citations")


@dataclass
class RunState:
    """Everything the next step needs; saved whole after every step."""

    run_id: str
    query: str
    config: WarpConfig
    report: Report
    language: str = "en"
    state: Phase = Phase.SEARCH
    """The phase the next step runs."""
    step: int = 0
    extend_count: int = 0
    registry: CitationRegistry = field(default_factory=CitationRegistry)
    passages: list[Passage] = field(default_factory=list)
    """The last search's passages, shown to the next planner or writer."""
    target_id: str | None = None
    """The node the current search/write serves (stable across user edits)."""
    failures: int = 0
    """Consecutive rejected replies in the current state."""
    status: RunStatus = RunStatus.RUNNING
    stop_reason: str = ""
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    wall_s: float = 0.0
    created_at: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        """Whether the run is over: the machine reached its last phase, or the run is done or failed."""
        return self.state == Phase.DONE or self.status in (RunStatus.DONE, RunStatus.FAILED)

    @classmethod
    def new(cls, run_id: str, question: str, config: WarpConfig) -> RunState:
        """The state of a run that has taken no step yet."""
        return cls(run_id=run_id, query=question, config=config, report=Report(query=question),
                   language=query_language(question))

    def to_dict(self, passages: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; ``passages=False`` leaves out passage texts (a run keeps those
        in its append-only ``passages.jsonl``) and names passages by key instead."""
        data = {
            "version": 1,
            "run_id": self.run_id,
            "query": self.query,
            "config": self.config.to_dict(),
            "report": self.report.to_dict(),
            "language": self.language,
            "state": self.state,
            "step": self.step,
            "extend_count": self.extend_count,
            "registry_size": len(self.registry.passages),
            "passage_keys": self.registry.keys_for(self.passages),
            "target_id": self.target_id,
            "failures": self.failures,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "counters": dict(self.counters),
            "wall_s": self.wall_s,
            "created_at": self.created_at,
        }
        if passages:
            data["registry"] = self.registry.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], registry: CitationRegistry | None = None) -> RunState:
        """Inverse of ``to_dict``; ``registry`` supplies the passages when they were left out.

        A value of the wrong type or an unknown phase raises ``RunError`` naming the field.
        """
        if registry is None:
            registry = CitationRegistry.from_dict(data.get("registry", {}))
        counters = dict.fromkeys(COUNTERS, 0)
        counters.update(data.get("counters", {}))
        try:
            state = cls(
                run_id=str(data["run_id"]),
                query=str(data["query"]),
                config=WarpConfig.from_dict(data["config"]),
                report=Report.from_dict(data["report"]),
                language=str(data.get("language", "en")),
                state=Phase(data.get("state", "search")),
                step=int(data.get("step", 0)),
                extend_count=int(data.get("extend_count", 0)),
                registry=registry,
                passages=[registry.passages[k] for k in data.get("passage_keys", [])],
                target_id=data.get("target_id"),
                failures=int(data.get("failures", 0)),
                status=RunStatus(data.get("status", "running")),
                stop_reason=str(data.get("stop_reason", "")),
                counters={k: int(v) for k, v in counters.items()},
                wall_s=float(data.get("wall_s", 0.0)),
                created_at=float(data.get("created_at", time.time())),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RunError(f"the saved run state is not valid ({type(exc).__name__}: {exc})") from None
        return state
