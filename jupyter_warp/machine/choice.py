"""Choosing by number: what the embedded model is shown to choose from, the grammar that
admits only those numbers, and the reading of its choice (DESIGN.md, "Grammar: only where
it helps": a 135M model cannot write, but it can choose, and a choice costs a few tokens).

Three things are chosen: section titles (the headings of the passages found, ranked by
relevance to the question and its key phrases), subsections of a section (the same, for
each section that may be split), and the sentences of a section (the passages' own
sentences, quoted word for word with their citation). A reply's numbers are read exactly
as the grammar writes them, so the grammar admits exactly what the reading accepts; a
number chosen twice counts once, and a plan left short by repeats is topped up with the
best-ranked candidates not chosen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..language import language_problem
from ..records import Passage
from . import text as T
from .gbnf import lit, seq
from .reply import ActionError

CHOICE_THOUGHT_WORDS = 12
"""Words of thought before a choice (the choice itself is a few tokens)."""
HEADING_CHOICES = 16
"""Section titles shown at most."""
QUOTE_CHOICES = 24
"""Sentences shown at most for one section: the most relevant few dozen."""
RELEVANCE_BAR = 0.34
"""A sentence is offered only when it is at least this relevant, relative to the best one."""
REPEATED = 0.1
"""A sentence sharing more of its 4-word phrases with the report or a better sentence is
not offered (the report's repeated share stays small)."""
FIRST_RANKED = 10
"""Headings of the first search's top passages may be offered even when they share no
word with the question: the search ranked them relevant."""


_Found = tuple[float, float, int, int, str, int]
"""A sentence found for quoting: score, relevance, passage rank, place, sentence, key."""


@dataclass(frozen=True)
class Choice:
    """One numbered option: a title with its plan, or a sentence with its passage key."""

    number: int
    text: str
    """The section title, or the sentence."""
    plan: str = ""
    """For a title: a sentence of its passage saying what the section will cover."""
    key: int = 0
    """The passage the title or sentence comes from."""
    position: str = ""
    """For a subsection: the section it would split."""


def rarity(found: Sequence[set[str]]) -> dict[str, float]:
    """Each term's weight among passages (given as their term sets): rare terms weigh more
    (a term in every passage, such as the collection's own subject, says little about one)."""
    counts: dict[str, int] = {}
    for terms in found:
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
    return {term: math.log((len(found) + 1) / (n + 0.5)) for term, n in counts.items()}


def _weight(terms: Iterable[str], idf: dict[str, float]) -> float:
    return sum(idf.get(t, 1.0) for t in terms)


def plan_for(passage: Passage, focus: str | set[str], avoid: Iterable[str] = (), strict: bool = False) -> str:
    """The passage's sentence that best says what it covers: the quotable sentence sharing
    most terms with ``focus`` (the first of equals), none of ``avoid``; else the start of its
    prose, or nothing when ``strict``."""
    if isinstance(focus, str):
        focus = set(T.terms(focus))
    said = T.sentences(passage.text)
    taken = set(avoid)
    good = [s for s in said if T.quotable(s, 30, 300) and s not in taken]
    if good:
        return max(good, key=lambda s: len(focus & set(T.terms(s))))  # max keeps the first of equals
    if strict:
        return ""
    flat = said[0] if said else " ".join(passage.text.split())
    return flat if len(flat) <= 240 else flat[:240].rsplit(" ", 1)[0]


def _names(passage: Passage) -> list[str]:
    """A passage's headings, the most specific first, then its document's title."""
    parts = [h.strip() for h in passage.heading.split(" > ")] if passage.heading else []
    return list(dict.fromkeys(n for n in reversed([passage.title.strip()] + parts) if n))


def heading_choices(passages: Sequence[Passage], keys: Sequence[int], question: str, language: str, *,
                    limit: int = HEADING_CHOICES, taken: Iterable[str] = (), first_ranked: int = FIRST_RANKED,
                    grams: frozenset[tuple[str, ...]] = frozenset(), minimum: int = 0) -> list[Choice]:
    """Titles for sections drawn from the passages' headings, best first, each with a plan
    of its own (a sentence of its passage that no better title took).

    Ranked by the question's terms in the title (and whole key phrases of the question),
    weighed by how much of the question its passage covers (rare terms weighing more), then
    by the passage's rank; a heading is paired with the passage it names most closely. A
    title must share a term with the question, or come from one of the first
    ``first_ranked`` passages (0: never). Left out: titles already ``taken`` (the
    outline's), titles with no content word, titles whose passage has no whole sentence to
    plan with, titles or plans not in the question's language or holding a phrase of the
    prompt's instructions, and titles far less relevant than the best unless fewer than
    ``minimum`` would be left."""
    query, phrases = T.topic_terms(question), T.key_phrases(question)
    used = {frozenset(T.terms(t)) for t in taken}
    bodies = [set(T.terms(p.text)) for p in passages]
    idf = rarity(bodies)
    most = _weight(query, idf) or 1.0
    best: dict[frozenset[str], tuple[float, str, Passage, int]] = {}
    for rank, (passage, key) in enumerate(zip(passages, keys, strict=False)):
        body = bodies[rank]
        for depth, name in enumerate(_names(passage)):
            title = " ".join(name.split())
            named = frozenset(T.terms(title))
            if not named or named in used or len(title) > 80:
                continue
            overlap = named & query
            if not overlap and rank >= first_ranked:
                continue
            about = _weight(body & query, idf) / most  # how much of the question the passage covers
            named_well = 1 + 3 * _weight(overlap, idf) + 2 * sum(p <= named for p in phrases)
            score = named_well * (about + 0.25) + 2 / (1 + rank) + (0.5 if depth == 0 else 0.0)
            if named not in best or best[named][0] < score:
                best[named] = (score, title, passage, key)
    out: list[Choice] = []
    plans: set[str] = set()
    bar = RELEVANCE_BAR * max((c[0] for c in best.values()), default=0.0)
    for score, title, passage, key in sorted(best.values(), key=lambda c: -c[0]):
        if score < bar and len(out) >= minimum:
            break
        plan = plan_for(passage, query | set(T.terms(title)), avoid=plans, strict=True)
        if not plan or language_problem(title + "\n" + plan, language):
            continue
        if T.copied_instruction(title + ". " + plan, grams):
            continue
        plans.add(plan)
        out.append(Choice(len(out) + 1, title, plan=plan, key=key))
        if len(out) == limit:
            break
    return out


def quote_choices(passages: Sequence[Passage], keys: Sequence[int], title: str, plan: str, question: str,
                  language: str, *, written: str = "", limit: int = QUOTE_CHOICES, min_chars: int = 40,
                  grams: frozenset[tuple[str, ...]] = frozenset()) -> list[Choice]:
    """The sentences a section may quote: the passage with the most relevant sentence first,
    each passage's sentences in reading order.

    The ``limit`` most relevant to the section (its ``title`` above all, then its ``plan``,
    then the question; rare terms weigh more, and a passage whose headings name the
    section's subject counts more), among whole prose sentences of at least ``min_chars``
    characters in the question's language. A sentence must share a term with the title or
    two with the plan and question, and be at least a third as relevant as the best.
    Left out too: a sentence said twice, one the report already says (``written``) or
    mostly repeats, and one that holds a phrase of the prompt's instructions."""
    named_title, named_plan, query = set(T.terms(title)), set(T.terms(plan)), T.topic_terms(question)
    said = {tuple(T.words(s)) for s in T.split_sentences(written)}
    idf = rarity([set(T.terms(p.text)) for p in passages])
    found: list[_Found] = []
    for rank, (passage, key) in enumerate(zip(passages, keys, strict=False)):
        heads = named_title & set(T.terms(" ".join(_names(passage))))
        home = 2 * _weight(heads, idf) / (_weight(named_title, idf) or 1)  # its headings name the section
        for place, sentence in enumerate(T.units(passage.text)):
            if not T.quotable(sentence, min_chars):
                continue
            words = T.words(sentence)
            if tuple(words) in said:
                continue
            said.add(tuple(words))
            named = set(T.terms(sentence))
            if not named & named_title and len(named & (named_plan | query)) < 2:
                continue
            relevance = (3 * _weight(named & named_title, idf) + _weight(named & named_plan - named_title, idf)
                         + 0.5 * _weight(named & query - named_plan - named_title, idf) + home)
            if language_problem(sentence, language) or T.copied_instruction(sentence, grams):
                continue
            found.append((relevance + 1 / (1 + rank) + 0.5 / (1 + place), relevance, rank, place, sentence, key))
    bar = RELEVANCE_BAR * max((c[1] for c in found), default=0.0)
    top = _distinct(sorted((c for c in found if c[1] >= bar), key=lambda c: -c[0]), written)[:limit]
    lead = {rank: -score for score, _, rank, *_ in reversed(top)}  # each passage's best sentence
    top.sort(key=lambda c: (lead[c[2]], c[2], c[3]))
    return [Choice(n, sentence, key=key) for n, (*_, sentence, key) in enumerate(top, 1)]


def _distinct(ranked: list[_Found], written: str) -> list[_Found]:
    """``ranked`` without a sentence that repeats the report or a better sentence: one that
    shares a run of ``text.RUN_N`` words with them, or more than ``REPEATED`` of its 4-word
    phrases (so that any choice among the rest reads without repetition)."""
    spoken = T.words(written)
    fours, runs = set(T.ngrams(spoken, T.REPEAT_N)), set(T.ngrams(spoken, T.RUN_N))
    kept: list[_Found] = []
    for found in ranked:
        words = T.words(found[4])
        grams = T.ngrams(words, T.REPEAT_N)
        if any(g in runs for g in T.ngrams(words, T.RUN_N)) or sum(g in fours for g in grams) > REPEATED * len(grams):
            continue
        kept.append(found)
        fours.update(grams)
        runs.update(T.ngrams(words, T.RUN_N))
    return kept


def cite(sentence: str, key: int) -> str:
    """The sentence with its citation before its final stop (``... handlers [3].``)."""
    if sentence[-1:] in ".!?。！？":
        space = "" if T.has_cjk(sentence[-2:-1]) else " "
        return f"{sentence[:-1]}{space}[{key}]{sentence[-1]}"
    return f"{sentence} [{key}]"


def quoted_text(chosen: Sequence[Choice]) -> str:
    """The section: each sentence word for word with its citation, one paragraph per run of
    sentences from the same passage; tasks with their commands as list items."""
    blocks: list[list[str]] = []
    last: tuple[bool, int] | None = None
    for choice in chosen:
        task = T.is_task(choice.text)
        kind = (task, -1 if task else choice.key)
        if kind != last:
            blocks.append([])
            last = kind
        blocks[-1].append(f"- {cite(choice.text, choice.key)}" if task else cite(choice.text, choice.key))
    return "\n\n".join(("\n" if b[0].startswith("- ") else " ").join(b) for b in blocks)


# The grammar and the reading of a choice.
def numbers_rule(name: str, choices: Sequence[Choice]) -> str:
    """``name ::= "1" | "2" | ...``: the numbers of ``choices``."""
    return f"{name} ::= " + " | ".join(lit(str(c.number)) for c in choices)


def list_rule(name: str, item: str, low: int, high: int) -> str:
    """``name ::= "[" item (", " item){low-1,high-1} "]"``: a JSON list of numbers."""
    return f'{name} ::= "[" {seq(item, low, high)} "]"'


_NUMBER_LIST = r"\[(?P<numbers>\d+(?:, \d+)*)\]"


def read_numbers(text: str, pattern: str, choices: Sequence[Choice], low: int, high: int,
                 what: str) -> tuple[re.Match[str], list[Choice]]:
    """The reply read as the grammar writes it: ``pattern`` (a regex holding one list of
    numbers, ``{list}``) matched whole, every number one of ``choices``, ``low`` to ``high``
    of them; the choices in the order given, repeats dropped."""
    match = re.fullmatch(pattern.replace("{list}", _NUMBER_LIST), text)
    if match is None:
        raise ActionError(f"the {what} must be written as the format shows, numbers in a list")
    by_number = {str(c.number): c for c in choices}
    numbers = match.group("numbers").split(", ")
    unknown = [n for n in numbers if n not in by_number]
    if unknown:
        raise ActionError(f"{', '.join(unknown)} is not one of the {len(choices)} numbered choices")
    if not low <= len(numbers) <= high:
        raise ActionError(f"the {what} must list {low} to {high} numbers, got {len(numbers)}")
    return match, list({by_number[n].number: by_number[n] for n in numbers}.values())


def top_up(chosen: list[Choice], ranked: Sequence[Choice], low: int) -> list[Choice]:
    """``chosen``, with the best-ranked choices not in it added until there are ``low``."""
    out = list(chosen)
    for choice in ranked:
        if len(out) >= low:
            break
        if choice not in out:
            out.append(choice)
    return out
