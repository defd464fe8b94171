"""The WARP state machine: one step is one model turn.

``prepare`` renders the prompt of the current state into a ``Turn`` without calling the
model, and ``apply`` takes the model's completion, validates it, edits the report and
moves the state on, returning the ``Step`` record. Splitting the two lets ``batch`` step
many questions in lockstep with one batched backend call.

Transitions (DESIGN.md)::

    search -> init_plan (no outline yet) | write (an unwritten node at the cursor)
    init_plan -> search
    write -> search (another unwritten node) | extend_plan | done (extends used up)
    extend_plan -> search (subsections added) | done (nop, or extends used up)
    any -> done (step >= max_steps)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from . import actions
from .actions import ActionError
from .budget import Render, fit_prompt, render_passages
from .grammar import grammar_for, max_tokens_for
from .prompts import PromptRenderer
from .records import ChatRequest, Completion, Passage, Searcher, Step
from .state import DONE, FAILED, RunState

SEARCH, INIT_PLAN, WRITE, EXTEND, FINISHED = "search", "init_plan", "write", "extend_plan", "done"


@dataclass
class ModelInfo:
    """What the policy needs to know about the backend to build prompts."""

    count_tokens: Callable[[str], int]
    context_window: int = 8192
    supports_grammar: bool = False


@dataclass
class Turn:
    """A prepared model turn: the request and what the reply will be checked against."""

    state: str
    position: str | None
    target_id: str | None
    request: ChatRequest
    passages: list[Passage] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)
    extendable: list[str] = field(default_factory=list)
    cut: dict[str, int] = field(default_factory=dict)
    started_at: float = 0.0


class WarpPolicy:
    """Steps one research question; owns no I/O besides the searcher."""

    def __init__(self, state: RunState, searcher: Searcher, model: ModelInfo, renderer: PromptRenderer) -> None:
        self.s = state
        self.config = state.config
        self.searcher = searcher
        self.model = model
        self.renderer = renderer

    # Preparing a turn.
    def prepare(self) -> Turn | None:
        """The next model turn, or None when the run is over."""
        s = self.s
        if s.finished:
            return None
        if s.step >= self.config.max_steps:
            self._finish(f"step budget used ({self.config.max_steps} steps)")
            return None
        self._sync_cursor()
        if s.state == FINISHED:
            return None
        started = time.time()
        turn = {SEARCH: self._prepare_search, INIT_PLAN: self._prepare_init, WRITE: self._prepare_write,
                EXTEND: self._prepare_extend}[s.state]()
        turn.started_at = started
        return turn

    def _sync_cursor(self) -> None:
        """Re-derive the cursor from the tree, so user edits between steps are honoured."""
        s = self.s
        if s.state not in (SEARCH, WRITE) or not s.report.sections:
            return
        cursor = s.report.next_unwritten()
        if cursor is None:
            self._after_last_write()
            return
        if s.state == WRITE and cursor[1].id != s.target_id:
            s.state, s.failures = SEARCH, 0
        s.target_id = cursor[1].id

    def _cursor(self) -> tuple[str | None, str]:
        """The cursor's position and the instruction describing what it must cover."""
        entry = self.s.report.by_id(self.s.target_id)
        if entry is None:
            return None, "first search: find the evidence needed to plan a report that answers the question"
        pos, node, _ = entry
        return pos, f"update {pos} [{node.title}]: {node.plan}"

    @property
    def _constrained(self) -> bool:
        return self.config.constrained and self.model.supports_grammar

    def _request(self, state: str, prompt: str, keys: Sequence[int] = (), extendable: Sequence[str] = ()) -> ChatRequest:
        grammar = grammar_for(state, self.config, keys=keys, positions=extendable) if self._constrained else None
        return ChatRequest(
            prompt=prompt,
            grammar=grammar,
            max_tokens=max_tokens_for(state, self.config, self._constrained),
            temperature=self.config.temperature,
            top_p=self.config.top_p,
            seed=None if self.config.seed is None else self.config.seed + self.s.step,
        )

    def _common(self) -> dict[str, object]:
        c = self.config
        return {
            "user_query": self.s.query,
            "language": self.s.language,
            "max_keywords": c.max_keywords,
            "min_sections": c.min_sections,
            "max_sections": c.max_sections,
            "min_subsections": c.min_subsections,
            "max_subsections": c.max_subsections,
        }

    def _prepare_search(self) -> Turn:
        position, instruction = self._cursor()
        prompt = self.renderer.render(
            SEARCH,
            current_outline=self.s.report.to_condensed(self.s.target_id, abbreviate=80),
            current_instruction=instruction,
            current_survey="",
            current_information="",
            **self._common(),
        )
        return Turn(SEARCH, position, self.s.target_id, self._request(SEARCH, prompt))

    def _render_passages(self, passages: list[Passage], keys: list[int]) -> str:
        return render_passages(passages, keys, self.config.passage_max_chars)

    def _fit(self, state: str, render: Render) -> tuple[str, list[Passage], dict[str, int]]:
        return fit_prompt(render, self.s.passages, self.model.count_tokens, self.model.context_window,
                          max_tokens_for(state, self.config, self._constrained), self.config.passage_max_chars)

    def _prepare_init(self) -> Turn:
        def render(passages: list[Passage], _abbrev: int | None) -> str:
            keys = self.s.registry.keys_for(passages)
            return self.renderer.render(
                INIT_PLAN,
                current_outline="",
                current_survey="",
                current_instruction="plan the report",
                current_information=self._render_passages(passages, keys),
                **self._common(),
            )

        prompt, passages, cut = self._fit(INIT_PLAN, render)
        keys = self.s.registry.keys_for(passages)
        return Turn(INIT_PLAN, None, None, self._request(INIT_PLAN, prompt), passages, keys, cut=cut)

    def _prepare_write(self) -> Turn:
        position, instruction = self._cursor()

        def render(passages: list[Passage], abbrev: int | None) -> str:
            keys = self.s.registry.keys_for(passages)
            survey = self.s.report.to_condensed(self.s.target_id, abbreviate=abbrev)
            if abbrev == 0:
                survey = "\n".join(line for line in survey.splitlines() if not line.startswith("[OK]"))
            return self.renderer.render(
                WRITE,
                current_outline=survey,
                current_survey=survey,
                current_instruction=instruction,
                current_information=self._render_passages(passages, keys),
                example_key=keys[0] if keys else 1,
                **self._common(),
            )

        prompt, passages, cut = self._fit(WRITE, render)
        keys = self.s.registry.keys_for(passages)
        return Turn(WRITE, position, self.s.target_id, self._request(WRITE, prompt, keys=keys), passages, keys, cut=cut)

    def _prepare_extend(self) -> Turn:
        extendable = self.s.report.extendable(self.config.max_depth)
        prompt = self.renderer.render(
            EXTEND,
            current_outline=self.s.report.to_condensed(None, abbreviate=None),
            current_survey=self.s.report.to_condensed(None, abbreviate=300),
            current_instruction="decide whether a section needs more depth",
            current_information="",
            extendable=extendable,
            **self._common(),
        )
        return Turn(EXTEND, None, None, self._request(EXTEND, prompt, extendable=extendable), extendable=extendable)

    # Applying the model's reply.
    def apply(self, turn: Turn, completion: Completion) -> Step:
        """Validate the reply, edit the report, move the state on; never raises on a bad reply."""
        s = self.s
        step = Step(
            index=s.step + 1,
            state=turn.state,
            position=turn.position,
            prompt=turn.request.prompt,
            reply=completion.text,
            passages=list(turn.passages),
            keys=list(turn.keys),
            cut=dict(turn.cut),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_s=completion.latency_s,
            started_at=turn.started_at,
        )
        s.step += 1
        s.counters["tokens_in"] += completion.prompt_tokens
        s.counters["tokens_out"] += completion.completion_tokens
        try:
            if completion.error:
                raise ActionError(f"the model call failed: {completion.error}")
            reply = actions.split_reply(completion.text)
            step.thought = reply.thought
            handler = {SEARCH: self._apply_search, INIT_PLAN: self._apply_init, WRITE: self._apply_write,
                       EXTEND: self._apply_extend}[turn.state]
            handler(turn, reply, step)
            s.failures = 0
        except ActionError as exc:
            reason = str(exc)
            if completion.finish_reason == "length":
                reason += " (the reply was cut off at the token limit)"
            step.error = reason
            s.failures += 1
            s.counters["failed_steps"] += 1
            self._on_failure(turn, step)
        if s.step >= self.config.max_steps and not s.finished:
            self._finish(f"step budget used ({self.config.max_steps} steps)")
        step.next_state = s.state
        step.ended_at = time.time()
        return step

    def _apply_search(self, turn: Turn, reply: actions.Reply, step: Step) -> None:
        action = actions.validate_search(actions.parse_json_action(reply.action_text), self.config)
        step.action = action
        self._run_search(action["keywords"], step)

    def _run_search(self, keywords: list[str], step: Step) -> None:
        s = self.s
        k = self.config.k if s.report.sections else self.config.first_k
        passages = self.searcher.search_many(keywords, k)
        s.counters["searches"] += 1
        step.passages = passages
        step.keys = s.registry.keys_for(passages)
        if not passages:
            raise ActionError(f"the search for {keywords} found nothing in the index")
        s.passages = passages
        s.state = WRITE if s.report.sections else INIT_PLAN
        step.diff.append(f"searched {len(keywords)} queries: {len(passages)} passages")

    def _apply_init(self, turn: Turn, reply: actions.Reply, step: Step) -> None:
        action = actions.validate_init_plan(actions.parse_json_action(reply.action_text), self.config)
        step.action = action
        s = self.s
        step.diff += s.report.init_plan(action["title"], action["sections"])
        cursor = s.report.next_unwritten()
        s.target_id = cursor[1].id if cursor else None
        s.state = SEARCH

    def _apply_write(self, turn: Turn, reply: actions.Reply, step: Step) -> None:
        s = self.s
        if not reply.closed:
            raise ActionError("the section was cut off before </action>")
        entry = s.report.by_id(turn.target_id)
        if entry is None or entry[1].locked:
            raise ActionError("the section was deleted or locked while it was being written")
        checked = actions.validate_write(reply.action_text, turn.keys, s.language, self.config)
        step.removed_citations = checked.removed
        s.counters["removed_citations"] += checked.removed
        step.action = {"name": "write", "position": entry[0], "text": checked.text, "citations": checked.cited}
        step.diff += s.report.write(entry[0], checked.text, checked.cited)
        s.counters["writes"] += 1
        self._advance()

    def _apply_extend(self, turn: Turn, reply: actions.Reply, step: Step) -> None:
        s = self.s
        action = actions.validate_extend(actions.parse_json_action(reply.action_text), s.report, self.config)
        step.action = action
        if action["name"] == "nop":
            self._finish("the model judged the report complete (nop)")
            step.diff.append("stopped deepening (nop)")
            return
        step.diff += s.report.extend(action["position"], action["subsections"])
        s.extend_count += 1
        s.counters["extends"] += 1
        cursor = s.report.next_unwritten()
        s.target_id = cursor[1].id if cursor else None
        s.state = SEARCH

    # Moving on.
    def _advance(self) -> None:
        cursor = self.s.report.next_unwritten()
        if cursor is None:
            self._after_last_write()
        else:
            self.s.target_id, self.s.state = cursor[1].id, SEARCH

    def _after_last_write(self) -> None:
        s = self.s
        if s.extend_count >= self.config.max_extends:
            self._finish(f"every section written; deepening rounds used ({s.extend_count}/{self.config.max_extends})")
        elif not s.report.extendable(self.config.max_depth):
            self._finish("every section written; none can be split further")
        else:
            s.state, s.target_id, s.failures = EXTEND, None, 0

    def _on_failure(self, turn: Turn, step: Step) -> None:
        """After a rejected reply: retry the state, or fall back after ``max_retries``."""
        s = self.s
        if turn.state == EXTEND:
            s.extend_count += 1
            if s.extend_count >= self.config.max_extends:
                self._finish(f"deepening rounds used ({s.extend_count}/{self.config.max_extends}), the last one invalid")
            return
        if s.failures < self.config.max_retries:
            return
        s.failures = 0
        if turn.state == SEARCH:
            entry = s.report.by_id(turn.target_id)
            keywords = [entry[1].title, s.query] if entry else [s.query]
            step.fallback = f"searched the section title and question instead: {keywords}"
            try:
                self._run_search(keywords, step)
            except ActionError:
                if entry is not None:
                    step.diff += s.report.fail(entry[0], "no passages found")
                    step.fallback += "; found nothing, section skipped"
                    self._advance()
                else:
                    self._finish("the index returned nothing for the question", status=FAILED)
        elif turn.state == WRITE:
            entry = s.report.by_id(turn.target_id)
            if entry is not None:
                step.diff += s.report.fail(entry[0], f"no valid text after {self.config.max_retries} tries")
            step.fallback = "section skipped"
            self._advance()
        elif turn.state == INIT_PLAN:
            sections = self._sections_from_passages()
            if sections:
                step.fallback = f"outline built from the headings of the {len(s.passages)} passages found"
                step.diff += s.report.init_plan(s.query, sections)
                cursor = s.report.next_unwritten()
                s.target_id = cursor[1].id if cursor else None
                s.state = SEARCH
            else:
                step.fallback = "stopped: no valid plan"
                self._finish(f"the model gave no valid plan in {self.config.max_retries} tries; try another model",
                             status=FAILED)

    def _sections_from_passages(self) -> list[dict[str, str]]:
        """A plan when the model gives none: one section per distinct heading (or document
        title) among the passages found, in rank order; empty if there are too few."""
        seen: dict[str, dict[str, str]] = {}
        for p in self.s.passages:
            title = (p.heading.split(" > ")[-1] if p.heading else p.title).strip()
            if title and title.lower() not in seen:
                seen[title.lower()] = {"title": title[:200], "plan": f"What the documents on {title[:160]} say about the question"}
        sections = list(seen.values())[: self.config.max_sections]
        return sections if len(sections) >= self.config.min_sections else []

    def _finish(self, reason: str, status: str = DONE) -> None:
        """End the run; a failed run keeps its state so that a resume retries it."""
        if status == DONE:
            self.s.state, self.s.target_id = FINISHED, None
        self.s.status, self.s.stop_reason = status, reason
