"""The extend-plan stage (deepening): once every planned node is written, the model splits
one written leaf into subsections, or answers ``nop`` to end the run. A rejected reply
uses up a deepening round, as in the reference."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config import WarpConfig
from ..errors import ConfigError
from ..records import Passage, Step
from ..report import Report, parse_position
from . import Phase, finish, move
from .gbnf import alts, head, head_bound, jkey, jlist, skeleton_frame, titled
from .init_plan import TITLED
from .reply import ActionError, Reply, check_language, parse_json_action, titled_entries
from .stage import Context, Stage, Turn


class ExtendPlanStage(Stage):
    phase = Phase.EXTEND_PLAN
    actions = ("extend-plan", "nop")

    def grammar(self, config: WarpConfig, keys: Sequence[int] = (), positions: Sequence[str] = ()) -> str:
        """Extend one of ``positions`` (written leaves above the depth limit), or stop."""
        rules = head(config)
        if not positions:
            return "\n".join(rules + ['action ::= "{\\"name\\": \\"nop\\"}"'])
        return "\n".join(
            rules
            + [
                'action ::= extend | "{\\"name\\": \\"nop\\"}"',
                'extend ::= "{\\"name\\": \\"extend-plan\\", \\"position\\": \\"" pos "\\", \\"subsections\\": [" secs "]}"',
                f"pos ::= {alts(positions)}",
            ]
            + titled("secs", config.min_subsections, config.max_subsections)
        )

    def skeleton(self, config: WarpConfig) -> str:
        return "\n".join(skeleton_frame("action") + [
            'action ::= extend | "{" ws "\\"name\\"" ws ":" ws "\\"nop\\"" ws "}"',
            f'extend ::= "{{" ws {jkey("name")} "\\"extend-plan\\"" ws "," ws {jkey("position")} jstr ws "," ws '
            f'{jkey("subsections")} {jlist("titled")} ws "}}"',
            TITLED,
        ])

    def bound(self, config: WarpConfig) -> int:
        return head_bound(config) + 100 + config.max_subsections * 350

    def prepare(self, ctx: Context) -> Turn:
        extendable = ctx.s.report.extendable(ctx.config.max_depth)
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
                **ctx.variables(),
            )

        fit, _, _ = ctx.fit(self.max_tokens(ctx), render)
        return self.turn(ctx, fit, None, positions=extendable)

    def apply(self, ctx: Context, turn: Turn, reply: Reply, step: Step) -> None:
        s = ctx.s
        action = validate_extend(parse_json_action(reply.action_text, self.actions, reply.closed), s.report,
                                 ctx.config)
        if action["name"] == "extend-plan":
            check_language([v for sub in action["subsections"] for v in sub.values()], s.language)
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

    def rejected(self, ctx: Context, turn: Turn, step: Step) -> None:
        s, c = ctx.s, ctx.config
        s.extend_count += 1
        if s.extend_count >= c.max_extends:
            finish(s, f"deepening rounds used ({s.extend_count}/{c.max_extends}), the last one invalid")


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
