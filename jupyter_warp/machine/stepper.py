"""One step of the machine: ``prepare`` renders the current phase's prompt into a ``Turn``
without calling the model; ``apply`` takes the model's completion, lets the phase's stage
validate it and change the report, and returns the ``Step`` record. Splitting the two lets
a batch step many questions in lockstep with one batched backend call."""

from __future__ import annotations

import re
import time

from ..prompts import PromptRenderer
from ..records import Completion, Searcher, Step
from ..state import RunState
from . import Phase, over_budget, sync_cursor
from .extend_plan import ExtendPlanStage
from .init_plan import InitPlanStage
from .reply import ActionError, split_reply
from .search import SearchStage
from .stage import Context, ModelInfo, Stage, Turn
from .write import WriteStage

_WINDOW = re.compile(r"maximum context length is (\d+)|context (?:window|length) (?:is |of )(\d+)", re.IGNORECASE)
"""A server's refusal naming its real window (vLLM's and llama-cpp-python's wording, ours)."""

STAGES: dict[Phase, Stage] = {stage.phase: stage for stage in
                              (SearchStage(), InitPlanStage(), WriteStage(), ExtendPlanStage())}


class Machine:
    """Steps one research question; owns no I/O besides the searcher."""

    def __init__(self, state: RunState, searcher: Searcher, model: ModelInfo, renderer: PromptRenderer) -> None:
        self.ctx = Context(state, searcher, model, renderer)

    def prepare(self) -> Turn | None:
        """The next model turn, or None when the run is over."""
        s, config = self.ctx.s, self.ctx.config
        if not s.finished and not over_budget(s, config):
            sync_cursor(s, config)
        if s.finished or s.step >= config.max_steps:
            return None
        started = time.time()
        turn = STAGES[s.state].prepare(self.ctx)
        turn.started_at = started
        return turn

    def _learn_window(self, error: str) -> None:
        """A server that refused a prompt for its length names its real window: fit to it
        from now on (a server that reports no window, such as llama-cpp-python's)."""
        match = _WINDOW.search(error)
        window = int(match.group(1) or match.group(2)) if match else 0
        if 0 < window < self.ctx.model.context_window:
            self.ctx.model.context_window = window

    def apply(self, turn: Turn, completion: Completion) -> Step:
        """Validate the reply, edit the report, move the state on; never raises on a bad reply."""
        s, config = self.ctx.s, self.ctx.config
        stage = STAGES[turn.phase]
        step = Step(
            index=s.step + 1, state=turn.phase, position=turn.position, prompt=turn.request.prompt,
            reply=completion.text, passages=list(turn.passages), keys=list(turn.keys), cut=dict(turn.cut),
            prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
            latency_s=completion.latency_s, started_at=turn.started_at,
        )
        s.step += 1
        s.counters["tokens_in"] += completion.prompt_tokens
        s.counters["tokens_out"] += completion.completion_tokens
        try:
            if turn.refusal:
                s.failures = max(s.failures, config.max_retries - 1)  # the same prompt would not fit again
                raise ActionError(f"not sent to the model: {turn.refusal}")
            if completion.error:
                self._learn_window(completion.error)
                raise ActionError(f"the model call failed: {completion.error}")
            reply = split_reply(completion.text)
            step.thought = reply.thought
            stage.apply(self.ctx, turn, reply, step)
            s.failures = 0
        except ActionError as exc:
            step.error = str(exc) + (" (the reply was cut off at the token limit)"
                                     if completion.finish_reason == "length" else "")
            s.failures += 1
            s.counters["failed_steps"] += 1
            stage.rejected(self.ctx, turn, step)
            if not s.finished and s.failures >= config.max_retries:
                s.failures = 0
                stage.fallback(self.ctx, turn, step)
        over_budget(s, config)
        step.next_state = s.state
        step.ended_at = time.time()
        return step
