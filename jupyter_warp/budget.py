"""Fitting a prompt into the model's context window: the lowest-ranked passages are dropped
first, then the report summary is shortened, and what was cut is recorded in the step."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .records import Passage

Render = Callable[[list[Passage], "int | None"], str]
"""Renders the prompt from the passages kept and how far to abbreviate the report."""

TEMPLATE_MARGIN = 64
"""Tokens kept free for the chat template around the prompt (SmolLM2's adds about 30)."""


def fit_prompt(render: Render, passages: Sequence[Passage], count_tokens: Callable[[str], int],
               context_window: int, max_tokens: int, passage_chars: int) -> tuple[str, list[Passage], dict[str, int]]:
    """The prompt, the passages it shows, and what was cut to fit the window."""
    budget = context_window - max_tokens - TEMPLATE_MARGIN
    kept = list(passages)
    abbreviate: int | None = 160
    prompt = render(kept, abbreviate)
    tokens = count_tokens(prompt)
    cut = {"passages": 0, "report_chars": 0}
    while tokens > budget and kept:
        dropped = kept.pop()
        cut["passages"] += 1
        tokens -= max(1, count_tokens(dropped.text[:passage_chars]))
        if tokens <= budget or not kept:
            prompt = render(kept, abbreviate)
            tokens = count_tokens(prompt)
    for shorter in (40, 0):
        if tokens <= budget:
            break
        before = len(prompt)
        prompt = render(kept, shorter)
        cut["report_chars"] += max(0, before - len(prompt))
        tokens = count_tokens(prompt)
    if tokens > budget:
        cut["over_budget_tokens"] = tokens - budget
    return prompt, kept, {k: v for k, v in cut.items() if v}
