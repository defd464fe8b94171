"""The write stage: with the passages of the last search, the model writes the section at
the cursor in Markdown, citing passages by their run-wide keys. Fallback: the section is
skipped (marked failed) and the cursor moves on."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..citations import CheckedText, check_citations
from ..config import WarpConfig
from ..language import language_problem
from ..records import Passage, Step
from . import Phase, advance
from .gbnf import alts, excluding, head_bound, rep, skeleton_frame, thought
from .reply import ActionError, Reply, strip_tags
from .stage import Context, Stage, Turn

SEGMENT_CHARS = 250
"""Characters of running text between two citations in a constrained section."""

_HEADING = re.compile(r"^\s{0,3}#", re.MULTILINE)
_FENCED = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
"""Fenced code, where a ``#`` line is a comment, not a heading."""


class WriteStage(Stage):
    phase = Phase.WRITE
    actions = ("write",)

    def grammar(self, config: WarpConfig, keys: Sequence[int] = (), positions: Sequence[str] = ()) -> str:
        """Sentences of plain text, each run ending in a citation of a key shown in this step."""
        segments = max(1, config.write_max_chars // (SEGMENT_CHARS + 6))
        key_alts = alts([str(k) for k in keys]) if keys else '"1"'
        return "\n".join([
            'root ::= "<thought>" thought "</thought>\\n<action>" body "</action>"',
            thought(config),
            f"body ::= {rep('seg', 1, segments)}",
            f'seg ::= first txt{{19,{SEGMENT_CHARS - 1}}} " " cite cite? end',
            'first ::= [^<#\\[\\]\\n\\t "*-]',
            "txt ::= [^<#\\[\\]\\n\\t]",
            'cite ::= "[" key "]"',
            f"key ::= {key_alts}",
            'end ::= "."? (" " | "\\n\\n")',
        ])

    def skeleton(self, config: WarpConfig) -> str:
        """Tags around a free Markdown body: paragraphs, lists, tables, code, any citation
        syntax, any length up to the reply budget; only ``</action>`` ends it."""
        return "\n".join(skeleton_frame("body", json_action=False) + excluding("body", "</action>"))

    def bound(self, config: WarpConfig) -> int:
        return head_bound(config) + config.write_max_chars + 200

    def prepare(self, ctx: Context) -> Turn:
        position, instruction = ctx.cursor(self.phase.value)
        view = ctx.renderer.view

        def render(level: int, passages: list[Passage], keys: list[int], chars: int) -> str:
            survey = view.survey(ctx.s.report, ctx.s.target_id, level)
            return ctx.renderer.render(
                self.phase,
                current_outline=survey,
                current_survey=survey,
                current_instruction=instruction,
                current_information=view.information(passages, keys, chars),
                example_key=keys[0] if keys else 1,
                **ctx.variables(),
            )

        fit, passages, keys = ctx.fit(self.max_tokens(ctx), render, *ctx.shown_passages())
        return self.turn(ctx, fit, position, passages, keys)

    def apply(self, ctx: Context, turn: Turn, reply: Reply, step: Step) -> None:
        s = ctx.s
        if not reply.closed:
            raise ActionError("the section was cut off before </action>")
        entry = s.report.by_id(turn.target_id)
        if entry is None or entry[1].locked:
            raise ActionError("the section was deleted or locked while it was being written")
        checked = validate_section(reply.action_text, turn.keys, s.language, ctx.config)
        step.removed_citations = checked.removed
        s.counters["removed_citations"] += checked.removed
        step.action = {"name": "write", "position": entry[0], "text": checked.text, "citations": checked.cited}
        step.diff += s.report.write(entry[0], checked.text, checked.cited)
        s.counters["writes"] += 1
        advance(s, ctx.config)

    def fallback(self, ctx: Context, turn: Turn, step: Step) -> None:
        entry = ctx.s.report.by_id(turn.target_id)
        if entry is not None:
            step.diff += ctx.s.report.fail(entry[0], f"no valid text after {ctx.config.max_retries} tries")
        step.fallback = "section skipped"
        advance(ctx.s, ctx.config)


def validate_section(body: str, allowed: Iterable[int], language: str, config: WarpConfig) -> CheckedText:
    """Check a section body; return it with citations normalised to ``[k]``."""
    body = strip_tags(body).strip()
    if _HEADING.search(_FENCED.sub("", body)):
        raise ActionError("a section must not contain # headings")
    checked = check_citations(body, allowed)
    if len(checked.text) <= config.min_section_chars:
        raise ActionError(f"the section is too short ({len(checked.text)} characters)")
    if not 1 <= len(checked.cited) <= config.max_cites:
        raise ActionError(
            f"a section must cite 1 to {config.max_cites} of the passages shown, cited {len(checked.cited)}"
            + (f" (and {checked.removed} unknown)" if checked.removed else "")
        )
    problem = language_problem(re.sub(r"\[\d+\]|`[^`]*`|```.*?```", "", checked.text, flags=re.DOTALL), language)
    if problem:
        raise ActionError(problem)
    return checked
