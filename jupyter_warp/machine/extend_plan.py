"""The extend-plan stage (deepening): once every planned node is written, the model splits
one written leaf into subsections, or answers ``nop`` to end the run. With assist on (the
embedded model) it chooses the subsections by number among headings found by searching
each section that may be split. A rejected reply uses up a deepening round, as in the
reference."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..config import WarpConfig
from ..errors import ConfigError
from ..records import Passage, Step
from ..report import Report, parse_position
from . import Phase, finish, move
from .choice import CHOICE_THOUGHT_WORDS, Choice, heading_choices, list_rule, numbers_rule, read_numbers, top_up
from .gbnf import alts, head, head_bound, jkey, jlist, lit, skeleton_frame, titled
from .init_plan import TITLED
from .reply import ActionError, Reply, check_language, parse_json_action, titled_entries
from .search import node_query
from .stage import Context, Stage, Turn

NOP = '{"name": "nop"}'
_EXTEND = re.compile(r'\{"name": "extend-plan", "position": "(?P<position>[^"]*)", "subsections": (?P<list>.*)\}')


class ExtendPlanStage(Stage):
    """Deepening: split one written leaf into subsections, or stop with ``nop``."""

    phase = Phase.EXTEND_PLAN
    actions = ("extend-plan", "nop")

    def grammar(self, config: WarpConfig, keys: Sequence[int] = (), positions: Sequence[str] = (),
                choices: Sequence[Choice] = ()) -> str:
        """Extend one of ``positions`` (written leaves above the depth limit), or stop; with
        ``choices``, by the numbers of the subsections offered for that position."""
        if choices:
            return "\n".join(head(config, max_words=CHOICE_THOUGHT_WORDS) + self._choice_rules(config, choices))
        rules = head(config)
        if not positions:
            return "\n".join(rules + ['action ::= "{\\"name\\": \\"nop\\"}"'])
        return "\n".join(
            rules
            + [
                'action ::= extend | "{\\"name\\": \\"nop\\"}"',
                'extend ::= "{\\"name\\": \\"extend-plan\\", \\"position\\": \\"" pos '
                '"\\", \\"subsections\\": [" secs "]}"',
                f"pos ::= {alts(positions)}",
            ]
            + titled("secs", config.min_subsections, config.max_subsections)
        )

    @staticmethod
    def _choice_rules(config: WarpConfig, choices: Sequence[Choice]) -> list[str]:
        offered = list(dict.fromkeys(c.position for c in choices))
        rules = [f"action ::= {' | '.join(f'ext{i}' for i in range(len(offered)))} | {lit(NOP)}"]
        for i, position in enumerate(offered):
            head_text = f'{{"name": "extend-plan", "position": "{position}", "subsections": '
            rules += [f'ext{i} ::= {lit(head_text)} subs{i} "}}"',
                      list_rule(f"subs{i}", f"num{i}", config.min_subsections, config.max_subsections),
                      numbers_rule(f"num{i}", [c for c in choices if c.position == position])]
        return rules

    def skeleton(self, config: WarpConfig) -> str:
        """Tags around a JSON extend-plan action (any position, any number of titled subsections) or nop."""
        return "\n".join(skeleton_frame("action") + [
            'action ::= extend | "{" ws "\\"name\\"" ws ":" ws "\\"nop\\"" ws "}"',
            f'extend ::= "{{" ws {jkey("name")} "\\"extend-plan\\"" ws "," ws {jkey("position")} jstr ws "," ws '
            f'{jkey("subsections")} {jlist("titled")} ws "}}"',
            TITLED,
        ])

    def bound(self, config: WarpConfig) -> int:
        """The thought, the action frame, and up to ``max_subsections`` titled entries of at most 350 tokens each."""
        return head_bound(config) + 100 + config.max_subsections * 350

    def prepare(self, ctx: Context) -> Turn:
        """The prompt shows the whole survey and the leaves that may be split (or, choosing, those offered)."""
        extendable = ctx.s.report.extendable(ctx.config.max_depth)
        choices: list[Choice] = []
        if ctx.choosing(self.phase):
            choices = self._offer(ctx, extendable)
            extendable = list(dict.fromkeys(c.position for c in choices))
        view = ctx.renderer.view
        instruction = view.instruction(ctx.s.report, None, self.phase.value)

        def render(level: int, _passages: list[Passage], _keys: list[int], _chars: int) -> str:
            survey = view.full_survey(ctx.s.report, level)
            return ctx.renderer.render(
                self.phase,
                current_outline=survey,
                current_survey=survey,
                current_instruction=instruction,
                current_information="",
                extendable=extendable,
                **{**ctx.variables(), "choices": choices},
            )

        fit, _, _ = ctx.fit(self.max_tokens(ctx), render)
        return self.turn(ctx, fit, None, positions=extendable, choices=choices)

    def _offer(self, ctx: Context, extendable: Sequence[str]) -> list[Choice]:
        """For each section that may be split, subsection titles drawn from the headings of
        the passages its title and plan find, numbered across all sections; a section with
        fewer than ``min_subsections`` of them is not offered."""
        s, c = ctx.s, ctx.config
        taken = [node.title for _, node, _ in s.report.walk()]
        out: list[Choice] = []
        for position in extendable:
            node = s.report.find(position)
            found = ctx.searcher.search_many([node_query(node)], 2 * c.k)
            offered = heading_choices(found, [0] * len(found), s.query, s.language, limit=2 * c.max_subsections,
                                      taken=taken, first_ranked=0, grams=ctx.instruction_grams,
                                      minimum=c.min_subsections)
            if len(offered) >= c.min_subsections:
                out += [Choice(len(out) + i, ch.text, plan=ch.plan, position=position)
                        for i, ch in enumerate(offered, 1)]
        return out

    def apply(self, ctx: Context, turn: Turn, reply: Reply, step: Step) -> None:
        """Add the subsections and move on to searching for the next unwritten node, or finish on ``nop``."""
        s = ctx.s
        if turn.choices or ctx.choosing(self.phase):
            action = self._chosen(ctx, turn, reply)
        else:
            action = validate_extend(parse_json_action(reply.action_text, self.actions, reply.closed), s.report,
                                     ctx.config)
            if action["name"] == "extend-plan":
                texts = [v for sub in action["subsections"] for v in sub.values()]
                check_language(texts, s.language)
                ctx.check_copies(texts)
        step.action = action
        if action["name"] == "nop":
            finish(s, "the model judged the report complete (nop)")
            step.diff.append("stopped deepening (nop)")
            return
        step.diff += s.report.extend(action["position"], action["subsections"])
        s.extend_count += 1
        s.counters["extends"] += 1
        cursor = s.report.next_unwritten()
        s.target_id = cursor[1].id if cursor else None
        move(s, Phase.SEARCH)

    def _chosen(self, ctx: Context, turn: Turn, reply: Reply) -> dict[str, Any]:
        """``nop``, or a position offered and its subsections chosen by number."""
        if not reply.closed:
            raise ActionError("the action was cut off before </action>")
        read = read_subsections(reply.raw_action, turn.choices, ctx.config)
        if read is None:
            return {"name": "nop"}
        position, chosen, merged = read
        subsections = [{"title": ch.text, "plan": ch.plan} for ch in merged]
        action = validate_extend({"name": "extend-plan", "position": position, "subsections": subsections},
                                 ctx.s.report, ctx.config)
        return {**action, "chosen": [ch.number for ch in chosen], "added": [ch.number for ch in merged[len(chosen):]]}

    def rejected(self, ctx: Context, turn: Turn, step: Step) -> None:
        """A rejected reply uses up a deepening round; the run ends when none is left."""
        s, c = ctx.s, ctx.config
        s.extend_count += 1
        if s.extend_count >= c.max_extends:
            finish(s, f"deepening rounds used ({s.extend_count}/{c.max_extends}), the last one invalid")


def read_subsections(action: str, choices: Sequence[Choice],
                     config: WarpConfig) -> tuple[str, list[Choice], list[Choice]] | None:
    """An extend chosen by number, read exactly as its grammar writes it: None for ``nop``;
    else the position, its subsections in the order chosen (repeats dropped), and those
    topped up to ``min_subsections`` with the position's best choices."""
    if action == NOP:
        return None
    match = _EXTEND.fullmatch(action)
    offered = [ch for ch in choices if match and ch.position == match.group("position")]
    if match is None or not offered:
        raise ActionError(f"the action must be {NOP} or extend one of the sections offered, as the format shows")
    _, chosen = read_numbers(match.group("list"), "{list}", offered, config.min_subsections, config.max_subsections,
                             "subsections")
    return match.group("position"), chosen, top_up(chosen, offered, config.min_subsections)


def validate_extend(action: dict[str, Any], report: Report, config: WarpConfig) -> dict[str, Any]:
    """An existing, unlocked, written leaf above the depth limit, and its new subsections."""
    if action["name"] == "nop":
        return {"name": "nop"}
    position = str(action.get("position", "")).strip().lower()
    try:
        depth = len(parse_position(position))
    except ConfigError as exc:
        raise ActionError(str(exc)) from None
    if not report.has(position):
        raise ActionError(f"position {position} does not exist")
    node = report.find(position)
    if node.children:
        raise ActionError(f"{position} already has subsections")
    if node.locked:
        raise ActionError(f"{position} is locked")
    if depth >= config.max_depth:
        raise ActionError(f"{position} is at the deepest level ({config.max_depth})")
    subsections = titled_entries(action.get("subsections"), config.min_subsections, config.max_subsections,
                                 "subsections")
    return {"name": "extend-plan", "position": position, "subsections": subsections}
