"""The write stage: with the passages of the last search, the model writes the section at
the cursor in Markdown, citing passages by their run-wide keys. Fallback: the section is
skipped (marked failed) and the cursor moves on."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..citations import CheckedText, check_citations
from ..config import WarpConfig
from ..language import language_problem
from ..prompts.variables import condensed, render_passages
from ..records import Passage, Step
from . import Phase, advance
from .gbnf import alts, head_bound, rep, thought
from .reply import ActionError, Reply, strip_tags
from .stage import Context, Stage, Turn

SEGMENT_CHARS = 250
"""Characters of running text between two citations in a constrained section."""

_HEADING = re.compile(r"^\s{0,3}#", re.MULTILINE)


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

    def bound(self, config: WarpConfig) -> int:
        return head_bound(config) + config.write_max_chars + 200

    def prepare(self, ctx: Context) -> Turn:
        position, instruction = ctx.cursor()

        def render(passages: list[Passage], abbreviate: int | None) -> str:
            keys = ctx.s.registry.keys_for(passages)
            survey = condensed(ctx.s.report, ctx.s.target_id, abbreviate=abbreviate)
            if abbreviate == 0:
                survey = "\n".join(line for line in survey.splitlines() if not line.startswith("[OK]"))
            return ctx.renderer.render(
                self.phase,
                current_outline=survey,
                current_survey=survey,
                current_instruction=instruction,
                current_information=render_passages(passages, keys, ctx.config.passage_max_chars),
                example_key=keys[0] if keys else 1,
                **ctx.variables(),
            )

        prompt, passages, cut = ctx.fit(self.max_tokens(ctx), render)
        keys = ctx.s.registry.keys_for(passages)
        request = self.request(ctx, prompt, keys=keys)
        return Turn(self.phase, position, ctx.s.target_id, request, passages, keys, cut=cut)

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
    if _HEADING.search(body):
        raise ActionError("a section must not contain # headings")
    checked = check_citations(body, allowed)
    if len(checked.text) <= config.min_section_chars:
        raise ActionError(f"the section is too short ({len(checked.text)} characters)")
    if not 1 <= len(checked.cited) <= config.max_cites:
        raise ActionError(
            f"a section must cite 1 to {config.max_cites} of the passages shown, cited {len(checked.cited)}"
            + (f" (and {checked.removed} unknown)" if checked.removed else "")
        )
    problem = language_problem(re.sub(r"\[\d+\]", "", checked.text), language)
    if problem:
        raise ActionError(problem)
    return checked
