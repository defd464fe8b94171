"""The init-plan stage: from the first search's passages, the model gives the report a
title and ``min_sections`` to ``max_sections`` top-level sections. With assist on (the
embedded model) it chooses and orders section titles among the headings of the passages
instead, by number; a title's plan is a sentence of its passage, the report's title the
question. Fallback: one section per distinct heading among the passages; with too few, the
run fails (resumable)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config import WarpConfig
from ..records import Passage, Step
from . import Phase, RunStatus, finish, move
from .choice import (
    CHOICE_THOUGHT_WORDS,
    HEADING_CHOICES,
    Choice,
    heading_choices,
    list_rule,
    numbers_rule,
    plan_for,
    read_numbers,
    top_up,
)
from .gbnf import head, head_bound, jkey, jlist, skeleton_frame, titled
from .reply import ActionError, Reply, check_language, clean_text, parse_json_action, titled_entries
from .stage import Context, Stage, Turn

TITLED = f'titled ::= "{{" ws {jkey("title")} jstr ws "," ws {jkey("plan")} jstr ws "}}"'
"""A ``{"title": ..., "plan": ...}`` object in the skeleton grammars."""


class InitPlanStage(Stage):
    """Planning: a title and the top-level sections, from the first search's passages."""

    phase = Phase.INIT_PLAN
    actions = ("init-plan",)

    def grammar(self, config: WarpConfig, keys: Sequence[int] = (), positions: Sequence[str] = (),
                choices: Sequence[Choice] = ()) -> str:
        """A short title and ``min_sections`` to ``max_sections`` titled sections; with
        ``choices``, the numbers of the headings chosen as sections."""
        if choices:
            return "\n".join(head(config, max_words=CHOICE_THOUGHT_WORDS) + [
                'action ::= "{\\"name\\": \\"init-plan\\", \\"sections\\": " secs "}"',
                list_rule("secs", "num", config.min_sections, config.max_sections),
                numbers_rule("num", choices),
            ])
        return "\n".join(
            head(config)
            + ['action ::= "{\\"name\\": \\"init-plan\\", \\"title\\": " short ", \\"sections\\": [" secs "]}"']
            + titled("secs", config.min_sections, config.max_sections)
        )

    def skeleton(self, config: WarpConfig) -> str:
        """Tags around a JSON init-plan action: any title, any number of titled sections."""
        return "\n".join(skeleton_frame("action") + [
            f'action ::= "{{" ws {jkey("name")} "\\"init-plan\\"" ws "," ws {jkey("title")} jstr ws "," ws '
            f'{jkey("sections")} {jlist("titled")} ws "}}"',
            TITLED,
        ])

    def bound(self, config: WarpConfig) -> int:
        """The thought, the action frame, and up to ``max_sections`` titled entries of at most 350 tokens each."""
        return head_bound(config) + 100 + config.max_sections * 350

    def prepare(self, ctx: Context) -> Turn:
        """The prompt shows the passages found (choosing: headings among them, when there are enough)."""
        s, c = ctx.s, ctx.config
        instruction = ctx.renderer.view.instruction(s.report, None, self.phase.value)
        shown, shown_keys = ctx.shown_passages()
        choices: list[Choice] = []
        if ctx.choosing(self.phase):
            choices = heading_choices(shown, shown_keys, s.query, s.language,
                                      limit=max(HEADING_CHOICES, 2 * c.max_sections),
                                      taken=[n.title for _, n, _ in s.report.walk()], grams=ctx.instruction_grams,
                                      minimum=c.min_sections)
            if len(choices) < c.min_sections:
                choices = []  # too few headings to choose from: the model plans itself

        def render(_level: int, passages: list[Passage], keys: list[int], chars: int) -> str:
            return ctx.renderer.render(
                self.phase,
                current_outline="",
                current_survey="",
                current_instruction=instruction,
                current_information=ctx.renderer.view.information(passages, keys, chars),
                **{**ctx.variables(), "choices": choices},
            )

        fit, passages, keys = ctx.fit(self.max_tokens(ctx), render, shown, shown_keys)
        return self.turn(ctx, fit, None, passages, keys, choices=choices)

    def apply(self, ctx: Context, turn: Turn, reply: Reply, step: Step) -> None:
        """Check the plan (its fields, language and copied instructions), make the outline, go search."""
        if turn.choices:
            self._chosen(ctx, turn, reply, step)
            return
        action = parse_json_action(reply.action_text, self.actions, reply.closed)
        step.action = validate_init_plan(action, ctx.config)
        texts = [step.action["title"]] + [v for s in step.action["sections"] for v in s.values()]
        check_language(texts, ctx.s.language)
        ctx.check_copies(texts)
        self._plan(ctx, step.action["title"], step.action["sections"], step)

    def _chosen(self, ctx: Context, turn: Turn, reply: Reply, step: Step) -> None:
        """The sections chosen by number: repeats merged, topped up to ``min_sections``."""
        if not reply.closed:
            raise ActionError("the plan was cut off before </action>")
        chosen, merged = read_sections(reply.raw_action, turn.choices, ctx.config)
        sections = [{"title": ch.text, "plan": ch.plan} for ch in merged]
        step.action = {"name": "init-plan", "title": ctx.s.query, "sections": sections,
                       "chosen": [ch.number for ch in chosen], "added": [ch.number for ch in merged[len(chosen):]]}
        self._plan(ctx, ctx.s.query, sections, step)

    def _plan(self, ctx: Context, title: str, sections: list[dict[str, str]], step: Step) -> None:
        s = ctx.s
        step.diff += s.report.init_plan(title, sections)
        cursor = s.report.next_unwritten()
        s.target_id = cursor[1].id if cursor else None
        move(s, Phase.SEARCH)

    def fallback(self, ctx: Context, turn: Turn, step: Step) -> None:
        """An outline from the passages' headings; with too few of them, the run fails."""
        s, c = ctx.s, ctx.config
        sections = sections_from_headings(s.passages, c.max_sections, s.query)
        if len(sections) >= c.min_sections:
            step.fallback = f"outline built from the headings of the {len(s.passages)} passages found"
            self._plan(ctx, s.query, sections, step)
        else:
            step.fallback = "stopped: no valid plan"
            why = turn.refusal or f"the model gave no valid plan in {c.max_retries} tries; try another model"
            finish(s, why, RunStatus.FAILED)


def sections_from_headings(passages: Sequence[Passage], limit: int, question: str = "") -> list[dict[str, str]]:
    """One section per distinct heading (or document title) among the passages, in rank
    order; its plan is a sentence of its passage (never a phrase of the engine's own)."""
    seen: dict[str, dict[str, str]] = {}
    for p in passages:
        title = (p.heading.split(" > ")[-1] if p.heading else p.title).strip()
        if title and title.lower() not in seen:
            seen[title.lower()] = {"title": title[:200], "plan": plan_for(p, question + " " + title)[:300]}
    return list(seen.values())[:limit]


def read_sections(action: str, choices: Sequence[Choice], config: WarpConfig) -> tuple[list[Choice], list[Choice]]:
    """A plan chosen by number, read exactly as its grammar writes it: the choices in the
    order chosen (repeats dropped), and those topped up to ``min_sections``."""
    _, chosen = read_numbers(action, r'\{"name": "init-plan", "sections": {list}\}', choices, config.min_sections,
                             config.max_sections, "plan")
    return chosen, top_up(chosen, choices, config.min_sections)


def validate_init_plan(action: dict[str, Any], config: WarpConfig) -> dict[str, Any]:
    """A title and ``min_sections`` to ``max_sections`` distinct titled sections."""
    sections = titled_entries(action.get("sections"), config.min_sections, config.max_sections, "sections")
    return {"name": "init-plan", "title": clean_text(action.get("title"), "title", 300), "sections": sections}
