"""Fitting a prompt and its reply into the model's context window.

What is cut, in order: the reply's reserve shrinks first when the window is small (to a
third of it, never below what the reply needs least); then distant sections of the report are
shortened, level by level (abbreviated, then title only, then the sections near the cursor
too); then the lowest-ranked passages are dropped, keeping at least ``MIN_PASSAGES`` (all of
them when fewer were found), as few as possible: the largest number that fits is kept, so
passages dropped while the report was long come back once it fits; then each passage's text
is shortened. What was cut is recorded in the step. A prompt that still does not fit is
refused with its reason: the step fails without calling the model, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Render = Callable[[int, int, int], str]
"""Renders the prompt at a shortening level, with the first ``n`` passages, each cut to
``chars`` characters."""

TEMPLATE_MARGIN = 64
"""Tokens kept free for the chat template around the prompt (SmolLM2's adds about 30)."""
MIN_PASSAGES = 3
MIN_REPLY = 64
MIN_PASSAGE_CHARS = 150


@dataclass
class Fit:
    """A prompt fitted to the window."""

    prompt: str
    passages: int
    """How many of the ranked passages it shows."""
    max_tokens: int
    """The reply's budget: what the stage asks for, or what the window leaves."""
    cut: dict[str, int] = field(default_factory=dict)
    refusal: str | None = None
    """Why no prompt fits (the step fails without a model call), else None."""


def fit_prompt(render: Render, passages: int, count_tokens: Callable[[str], int], context_window: int,
               reply_tokens: int, *, levels: int = 1, passage_chars: int = 1200) -> Fit:
    """The prompt for ``render`` that fits ``context_window`` with room for the reply."""
    reserve = min(reply_tokens, max(MIN_REPLY, context_window // 3))
    budget = context_window - TEMPLATE_MARGIN - reserve
    keep = min(MIN_PASSAGES, passages)
    cache: dict[tuple[int, int, int], tuple[str, int]] = {}

    def size(level: int, n: int, chars: int) -> tuple[str, int]:
        if (level, n, chars) not in cache:
            prompt = render(level, n, chars)
            cache[level, n, chars] = prompt, count_tokens(prompt)
        return cache[level, n, chars]

    def rendered(level: int, n: int, chars: int) -> str:
        return cache[level, n, chars][0] if (level, n, chars) in cache else render(level, n, chars)

    def done(level: int, n: int, chars: int) -> Fit:
        prompt, tokens = size(level, n, chars)
        level = next((low for low in range(level) if rendered(low, n, chars) == prompt), level)  # the cut that mattered
        room = context_window - TEMPLATE_MARGIN - tokens
        max_tokens = min(reply_tokens, room)
        cut = {"report_level": level, "passages": passages - n,
               "passage_chars": chars if chars < passage_chars else 0,
               "reply_tokens": max_tokens if room < reply_tokens else 0}
        return Fit(prompt, n, max_tokens, {k: v for k, v in cut.items() if v})

    level = 0
    for level in range(levels):
        if size(level, passages, passage_chars)[1] <= budget:
            return done(level, passages, passage_chars)
    chars = passage_chars
    while True:
        if size(level, keep, chars)[1] <= budget:
            low, high = keep, passages  # the most passages that fit
            while low < high:
                mid = (low + high + 1) // 2
                low, high = (mid, high) if size(level, mid, chars)[1] <= budget else (low, mid - 1)
            return done(level, low, chars)
        if chars <= MIN_PASSAGE_CHARS or not passages:
            break
        chars = max(MIN_PASSAGE_CHARS, chars // 2)
    prompt, tokens = size(level, keep, chars)
    return Fit(prompt, keep, 0, {"over_budget_tokens": tokens - budget},
               refusal=f"the prompt needs {tokens} tokens even shortened, but the context window of "
                       f"{context_window} leaves {budget} beside a reply of {reserve}: raise context_window or "
                       "lower passage_max_chars, k or max_new_tokens")
