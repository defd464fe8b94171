"""The WARP state machine: its phases, the transitions between them, and the rules that
finish a run, fall back after repeated rejections, and reopen a run for more work.

One step is one model turn in the current phase. A stage module per phase (``search``,
``init_plan``, ``write``, ``extend_plan``) owns that phase's prompt, grammar, token bound,
validation and what an accepted reply changes; ``stepper.Machine`` runs one step.

Transitions (a reply accepted, or a stage's fallback after ``max_retries`` rejections)::

    search      -> init_plan    passages found and no outline yet
                -> write        passages found for the node at the cursor
                -> search       (fallback) nothing found: the section is skipped, next node
                -> extend_plan  (fallback) ... and it was the last unwritten node
    init_plan   -> search       the outline has top-level sections
    write       -> search       the cursor moves to the next unwritten node (pre-order)
                -> extend_plan  none is left and a deepening round remains
    extend_plan -> search       subsections added
    any         -> done         nop, rounds or step budget used, nothing left to split
    done        -> search       reopened: the user added a node, or more steps were allowed
                -> extend_plan  reopened: more deepening rounds were allowed

A rejected reply keeps the phase (retried); a failed run keeps its phase so that a resume
retries it; so does a run stopped by its step budget, so that a larger budget continues it.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import WarpConfig
    from ..state import RunState


class Phase(str, Enum):
    """The machine state the next step runs."""

    SEARCH = "search"
    INIT_PLAN = "init_plan"
    WRITE = "write"
    EXTEND_PLAN = "extend_plan"
    DONE = "done"

    def __str__(self) -> str:
        return self.value


class RunStatus(str, Enum):
    """Where a run stands as a whole (a run can be stopped in any phase)."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.SEARCH: frozenset({Phase.INIT_PLAN, Phase.WRITE, Phase.SEARCH, Phase.EXTEND_PLAN, Phase.DONE}),
    Phase.INIT_PLAN: frozenset({Phase.SEARCH, Phase.DONE}),
    Phase.WRITE: frozenset({Phase.SEARCH, Phase.EXTEND_PLAN, Phase.DONE}),
    Phase.EXTEND_PLAN: frozenset({Phase.SEARCH, Phase.DONE}),
    Phase.DONE: frozenset({Phase.SEARCH, Phase.EXTEND_PLAN}),
}


def move(s: RunState, to: Phase) -> None:
    """Change phase along the table; anything else is a bug in a stage, not a user error."""
    if to != s.state and to not in TRANSITIONS[s.state]:
        raise RuntimeError(f"no transition {s.state} -> {to}")
    s.state, s.failures = to, 0


def finish(s: RunState, reason: str, status: RunStatus = RunStatus.DONE, *, keep_phase: bool = False) -> None:
    """End the run. ``keep_phase`` (failed runs, a used step budget) lets a resume go on."""
    if status == RunStatus.DONE and not keep_phase:
        move(s, Phase.DONE)
        s.target_id = None
    s.status, s.stop_reason = status, reason


def advance(s: RunState, config: WarpConfig) -> None:
    """After a section is written or skipped: the next unwritten node, else deepen or end."""
    cursor = s.report.next_unwritten()
    if cursor is not None:
        s.target_id = cursor[1].id
        move(s, Phase.SEARCH)
    elif s.extend_count >= config.max_extends:
        finish(s, f"every section written; deepening rounds used ({s.extend_count}/{config.max_extends})")
    elif not s.report.extendable(config.max_depth):
        finish(s, "every section written; none can be split further")
    else:
        s.target_id = None
        move(s, Phase.EXTEND_PLAN)


def sync_cursor(s: RunState, config: WarpConfig) -> None:
    """Re-derive the cursor from the tree before a step, so user edits are honoured."""
    if s.state not in (Phase.SEARCH, Phase.WRITE) or not s.report.sections:
        return
    cursor = s.report.next_unwritten()
    if cursor is None:
        advance(s, config)
        return
    if s.state == Phase.WRITE and cursor[1].id != s.target_id:
        move(s, Phase.SEARCH)
    s.target_id = cursor[1].id


def over_budget(s: RunState, config: WarpConfig) -> bool:
    """True (and the run finished) once the step budget is used."""
    if s.step >= config.max_steps and not s.finished:
        finish(s, f"step budget used ({config.max_steps} steps)", keep_phase=True)
    return s.step >= config.max_steps


def reopen(s: RunState, config: WarpConfig, before: WarpConfig | None = None) -> None:
    """On resume (``before``: the settings the run had) or after a user edit: continue
    whatever the new settings or the edited tree allow; a finished run stays finished."""
    if s.status in (RunStatus.FAILED, RunStatus.STOPPED):
        s.status, s.failures, s.stop_reason = RunStatus.RUNNING, 0, ""
    if s.status != RunStatus.DONE or s.step >= config.max_steps:
        return
    more_extends = before is not None and config.max_extends > max(before.max_extends, s.extend_count)
    if s.state != Phase.DONE:
        s.status, s.stop_reason = RunStatus.RUNNING, ""
    elif s.report.next_unwritten() is not None:
        s.status, s.stop_reason = RunStatus.RUNNING, ""
        move(s, Phase.SEARCH)
    elif more_extends and s.report.extendable(config.max_depth):
        s.status, s.stop_reason = RunStatus.RUNNING, ""
        move(s, Phase.EXTEND_PLAN)


__all__ = ["Phase", "RunStatus", "TRANSITIONS", "move", "finish", "advance", "sync_cursor", "over_budget", "reopen"]
