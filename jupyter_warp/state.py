"""The state of one research question between two steps: what a checkpoint holds."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .citations import CitationRegistry
from .config import WarpConfig
from .records import Passage
from .report import Report

RUNNING, DONE, FAILED, STOPPED = "running", "done", "failed", "stopped"
COUNTERS = ("searches", "writes", "extends", "failed_steps", "tokens_in", "tokens_out", "removed_citations")


@dataclass
class RunState:
    """Everything the next step needs; saved whole after every step."""

    run_id: str
    query: str
    config: WarpConfig
    report: Report
    language: str = "en"
    state: str = "search"
    """The machine state the next step runs: search, init_plan, write, extend_plan or done."""
    step: int = 0
    extend_count: int = 0
    registry: CitationRegistry = field(default_factory=CitationRegistry)
    passages: list[Passage] = field(default_factory=list)
    """The last search's passages, shown to the next planner or writer."""
    target_id: str | None = None
    """The node the current search/write serves (stable across user edits)."""
    failures: int = 0
    """Consecutive rejected replies in the current state."""
    status: str = RUNNING
    stop_reason: str = ""
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    wall_s: float = 0.0
    created_at: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        return self.state == "done" or self.status in (DONE, FAILED)

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
    def from_dict(cls, data: dict[str, Any], registry: CitationRegistry | None = None) -> "RunState":
        """Inverse of ``to_dict``; ``registry`` supplies the passages when they were left out."""
        if registry is None:
            registry = CitationRegistry.from_dict(data.get("registry", {}))
        counters = dict.fromkeys(COUNTERS, 0)
        counters.update(data.get("counters", {}))
        return cls(
            run_id=data["run_id"],
            query=data["query"],
            config=WarpConfig.from_dict(data["config"]),
            report=Report.from_dict(data["report"]),
            language=data.get("language", "en"),
            state=data.get("state", "search"),
            step=data.get("step", 0),
            extend_count=data.get("extend_count", 0),
            registry=registry,
            passages=[registry.passages[k] for k in data.get("passage_keys", [])],
            target_id=data.get("target_id"),
            failures=data.get("failures", 0),
            status=data.get("status", RUNNING),
            stop_reason=data.get("stop_reason", ""),
            counters=counters,
            wall_s=data.get("wall_s", 0.0),
            created_at=data.get("created_at", time.time()),
        )
