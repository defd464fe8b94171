"""The write stage: with the passages of the last search, the model writes the section at
the cursor in Markdown, citing passages by their run-wide keys (free mode), or chooses
which sentences of the passages the section quotes, by number (quote mode, the embedded
model's): the section is then those sentences word for word, each with its citation.
In every mode a section that copies the prompt's instructions or repeats itself is
rejected. Fallback: the section is skipped (marked failed) and the cursor moves on."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..citations import CheckedText, check_citations
from ..config import WarpConfig
from ..records import Passage, Step
from . import Phase, advance
from .choice import (
    CHOICE_THOUGHT_WORDS,
    QUOTE_CHOICES,
    Choice,
    list_rule,
    numbers_rule,
    quote_choices,
    quoted_text,
    read_numbers,
)
from .gbnf import alts, excluding, head, head_bound, rep, skeleton_frame, thought
from .reply import ActionError, Reply, check_language, strip_tags
from .stage import Context, Stage, Turn
from .text import copied_instruction, repetition

QUOTED = "quoted"
"""The note of a node written in quote mode (the report says which mode wrote it)."""
QUOTE_MIN_CHARS = 40
"""Shortest sentence offered for quoting (a shorter one rarely stands alone)."""
SEGMENT_CHARS = 250
"""Characters of running text between two citations in a constrained section."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""Control characters (a model's stray bytes, terminal escapes): never part of a report."""
_HEADING = re.compile(r"^\s{0,3}#", re.MULTILINE)
_FENCED = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
"""Fenced code, where a ``#`` line is a comment, not a heading."""


class WriteStage(Stage):
    """Writing: the text of the node at the cursor, citing the passages of the last search."""

    phase = Phase.WRITE
    actions = ("write",)

    def grammar(self, config: WarpConfig, keys: Sequence[int] = (), positions: Sequence[str] = (),
                choices: Sequence[Choice] = ()) -> str:
        """Sentences of plain text, each run ending in a citation of a key shown in this step;
        in quote mode, a list of the numbers of the sentences shown."""
        if choices:
            low, high = quote_count(config, len(choices))
            return "\n".join(head(config, max_words=CHOICE_THOUGHT_WORDS) + [
                "action ::= quotes", list_rule("quotes", "num", low, high), numbers_rule("num", choices)])
        segments = max(1, config.write_max_chars // (SEGMENT_CHARS + 6))
        key_alts = alts([str(k) for k in keys]) if keys else '"1"'
        return "\n".join([
            'root ::= "<thought>" thought "</thought>\\n<action>" body "</action>"',
            thought(config),
            f"body ::= {rep('seg', 1, segments)}",
            f'seg ::= first txt{{19,{SEGMENT_CHARS - 1}}} " " cite cite? end',
            'first ::= [^<#\\[\\]\\x00-\\x1f\\x7f "*-]',
            "txt ::= [^<#\\[\\]\\x00-\\x1f\\x7f]",
            'cite ::= "[" key "]"',
            f"key ::= {key_alts}",
            'end ::= "."? (" " | "\\n\\n")',
        ])

    def skeleton(self, config: WarpConfig) -> str:
        """Tags around a free Markdown body: paragraphs, lists, tables, code, any citation
        syntax, any length up to the reply budget; only ``</action>`` ends it."""
        return "\n".join(skeleton_frame("body", json_action=False) + excluding("body", "</action>"))

    def bound(self, config: WarpConfig) -> int:
        """The thought, the action frame and a body of ``write_max_chars`` (a token is a character or more)."""
        return head_bound(config) + config.write_max_chars + 200

    def prepare(self, ctx: Context) -> Turn:
        """The prompt shows the survey near the cursor and the passages (quoting: sentences of them to choose)."""
        position, instruction = ctx.cursor(self.phase.value)
        view, c = ctx.renderer.view, ctx.config
        quoting = ctx.choosing(self.phase)
        found: dict[tuple[int, int], list[Choice]] = {}

        def choices_for(passages: list[Passage], keys: list[int], chars: int) -> list[Choice]:
            """The sentences offered, fewer when the passages had to be shortened to fit."""
            if not quoting:
                return []
            limit = max(6, QUOTE_CHOICES * min(chars, c.passage_max_chars) // c.passage_max_chars)
            if (len(passages), limit) not in found:
                found[len(passages), limit] = self._quotes(ctx, passages, keys, limit)
            return found[len(passages), limit]

        def render(level: int, passages: list[Passage], keys: list[int], chars: int) -> str:
            survey = view.survey(ctx.s.report, ctx.s.target_id, level)
            return ctx.renderer.render(
                self.phase,
                current_outline=survey,
                current_survey=survey,
                current_instruction=instruction,
                current_information=view.information(passages, keys, chars),
                example_key=keys[0] if keys else 1,
                **{**ctx.variables(), "choices": choices_for(passages, keys, chars),
                   "max_quotes": quote_count(c, QUOTE_CHOICES)[1]},
            )

        fit, passages, keys = ctx.fit(self.max_tokens(ctx), render, *ctx.shown_passages())
        choices = choices_for(passages, keys, fit.cut.get("passage_chars") or c.passage_max_chars)
        turn = self.turn(ctx, fit, position, passages, keys, choices=choices)
        if quoting and not choices and turn.refusal is None:
            turn.refusal = "no sentence of the passages found can be quoted for this section"
        return turn

    def _quotes(self, ctx: Context, passages: list[Passage], keys: list[int], limit: int) -> list[Choice]:
        """The sentences this section may quote (see ``choice.quote_choices``)."""
        s = ctx.s
        entry = s.report.by_id(s.target_id)
        title, plan = (entry[1].title, entry[1].plan) if entry else (s.query, "")
        written = "\n".join(node.text for _, node, _ in s.report.walk() if node.text)
        return quote_choices(passages, keys, title, plan, s.query, s.language, written=written, limit=limit,
                             min_chars=max(QUOTE_MIN_CHARS, ctx.config.min_section_chars + 1),
                             grams=ctx.instruction_grams)

    def apply(self, ctx: Context, turn: Turn, reply: Reply, step: Step) -> None:
        """Check the section (or read the sentences chosen), write it into the report, move the cursor on."""
        s = ctx.s
        if not reply.closed:
            raise ActionError("the section was cut off before </action>")
        entry = s.report.by_id(turn.target_id)
        if entry is None or entry[1].locked:
            raise ActionError("the section was deleted or locked while it was being written")
        if turn.choices:
            chosen = read_quotes(reply.raw_action, turn.choices, ctx.config)
            text, cited = quoted_text(chosen), list(dict.fromkeys(ch.key for ch in chosen))
            step.action = {"name": "write", "position": entry[0], "text": text, "citations": cited, "mode": "quote",
                           "sentences": [ch.number for ch in chosen]}
        else:
            checked = validate_section(reply.action_text, turn.keys, s.language, ctx.config, ctx.instruction_grams)
            step.removed_citations = checked.removed
            s.counters["removed_citations"] += checked.removed
            text, cited = checked.text, checked.cited
            step.action = {"name": "write", "position": entry[0], "text": text, "citations": cited, "mode": "free"}
        step.diff += s.report.write(entry[0], text, cited)
        if turn.choices:
            entry[1].note = QUOTED
        s.counters["writes"] += 1
        advance(s, ctx.config)

    def fallback(self, ctx: Context, turn: Turn, step: Step) -> None:
        """Mark the section failed and move the cursor on: the report leaves it out."""
        entry = ctx.s.report.by_id(turn.target_id)
        if entry is not None:
            step.diff += ctx.s.report.fail(entry[0], f"no valid text after {ctx.config.max_retries} tries")
        step.fallback = "section skipped"
        advance(ctx.s, ctx.config)


def quote_count(config: WarpConfig, offered: int) -> tuple[int, int]:
    """How many sentences a quoted section lists: 2 (1 when only one is offered) to as
    many as ``write_max_chars`` holds at about 100 characters a sentence, at most
    ``max_cites`` and the number offered."""
    high = max(1, min(config.max_cites, config.write_max_chars // 100, offered))
    return min(2, high), high


def read_quotes(action: str, choices: Sequence[Choice], config: WarpConfig) -> list[Choice]:
    """The sentences chosen by number, read exactly as the quote grammar writes them, in
    the order chosen, repeats dropped."""
    low, high = quote_count(config, len(choices))
    return read_numbers(action, "{list}", choices, low, high, "section")[1]


def validate_section(body: str, allowed: Iterable[int], language: str, config: WarpConfig,
                     grams: frozenset[tuple[str, ...]] = frozenset()) -> CheckedText:
    """Check a section body; return it with citations normalised to ``[k]``. It must not
    copy a phrase of the prompt's instructions (``grams``) nor repeat itself."""
    body = _CONTROL.sub("", strip_tags(body)).strip()
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
    check_language([re.sub(r"\[\d+\]|`[^`]*`|```.*?```", "", checked.text, flags=re.DOTALL)], language)
    phrase = copied_instruction(checked.text, grams)
    if phrase:
        raise ActionError(f"the section copies the prompt's instructions ({phrase!r})")
    repeated = repetition(checked.text)
    if repeated:
        raise ActionError(f"the section repeats itself: {repeated}")
    return checked
