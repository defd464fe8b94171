"""What every stage shares: the prepared turn, what the machine knows of the model, the
context a stage works in, and the interface each stage implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ..budget import Fit, fit_prompt
from ..config import WarpConfig
from ..language import language_name
from ..llm.base import Backend
from ..prompts import TEMPLATES, PromptRenderer
from ..records import ChatRequest, Completion, Passage, Searcher, Step
from ..state import RunState
from . import Phase
from .choice import CHOICE_THOUGHT_WORDS, Choice
from .gbnf import head_bound
from .profile import ModelProfile, choose_profile, model_name
from .reply import ActionError, Reply
from .text import copied_instruction, instruction_ngrams


@dataclass
class ModelInfo:
    """What the machine needs to know about the backend to build prompts."""

    count_tokens: Callable[[str], int]
    context_window: int = 8192
    """The window prompts are fitted to: the backend's, or less when a setting asks."""
    supports_grammar: bool = False
    profile: ModelProfile | None = None
    """How the engine talks to this model; None: chosen from the settings alone."""

    @classmethod
    def from_backend(cls, backend: Backend, config: WarpConfig) -> ModelInfo:
        """The backend's counter, window (capped by ``config.context_window``) and profile."""
        window = int(backend.context_window)
        if config.context_window is not None:
            window = min(window, config.context_window)
        supports = bool(backend.supports_grammar)
        return cls(backend.count_tokens, window, supports,
                   choose_profile(model_name(backend), supports, config))


@dataclass
class Turn:
    """A prepared model turn: the request and what the reply will be checked against."""

    phase: Phase
    position: str | None
    target_id: str | None
    request: ChatRequest
    passages: list[Passage] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)
    cut: dict[str, int] = field(default_factory=dict)
    started_at: float = 0.0
    refusal: str | None = None
    """Why no prompt fits the window: the step fails without a model call."""
    choices: list[Choice] = field(default_factory=list)
    """The numbered options the model chooses among (none: it writes its own action)."""

    def offline(self) -> Completion | None:
        """The completion of a turn the model must not see (a refused prompt), else None."""
        if self.refusal is None:
            return None
        return Completion("", finish_reason="error", error=self.refusal)


@dataclass
class Context:
    """One run's state and the collaborators a stage may use (no I/O besides the searcher)."""

    s: RunState
    searcher: Searcher
    model: ModelInfo
    renderer: PromptRenderer
    _grams: frozenset[tuple[str, ...]] | None = field(default=None, repr=False)

    @property
    def config(self) -> WarpConfig:
        """The run's settings."""
        return self.s.config

    @property
    def profile(self) -> ModelProfile:
        """The model's profile (from the settings alone when the backend gave none)."""
        if self.model.profile is None:
            self.model.profile = choose_profile("", self.model.supports_grammar, self.config)
        return self.model.profile

    @property
    def grammar_mode(self) -> str:
        """``full``, ``skeleton`` or ``off``."""
        return self.profile.grammar

    def choosing(self, phase: Phase) -> bool:
        """Whether the model chooses by number in ``phase``: planning with assist on, writing
        in quote mode; only where a grammar holds the reply to the numbers shown and the
        phase's template shows them (``choices``)."""
        p = self.profile
        wanted = p.write_mode == "quote" if phase == Phase.WRITE else p.assist
        return wanted and p.constrained and self.renderer.uses(phase.value, "choices")

    @property
    def instruction_grams(self) -> frozenset[tuple[str, ...]]:
        """The phrases of the prompts' instructions, which no reply may copy."""
        if self._grams is None:
            self._grams = instruction_ngrams(self.renderer.source(state) for state in TEMPLATES)
        return self._grams

    def check_copies(self, texts: Sequence[str]) -> None:
        """Reject text that copies a phrase of the prompt's instructions."""
        for text in texts:
            phrase = copied_instruction(text, self.instruction_grams)
            if phrase:
                raise ActionError(f"the reply copies the prompt's instructions ({phrase!r})")

    def variables(self) -> dict[str, object]:
        """Template variables every prompt gets besides the reference system's five."""
        c = self.config
        return {
            "user_query": self.s.query,
            "language": self.s.language,
            "language_name": language_name(self.s.language),
            "bounded": self.grammar_mode == "full",
            "max_keywords": c.max_keywords,
            "min_sections": c.min_sections,
            "max_sections": c.max_sections,
            "min_subsections": c.min_subsections,
            "max_subsections": c.max_subsections,
            "choices": [],
        }

    def cursor(self, phase: str) -> tuple[str | None, str]:
        """The cursor's position and the instruction describing what it must cover."""
        entry = self.s.report.by_id(self.s.target_id)
        instruction = self.renderer.view.instruction(self.s.report, self.s.target_id, phase)
        return (entry[0] if entry else None), instruction

    def shown_passages(self) -> tuple[list[Passage], list[int]]:
        """The last search's passages in rank order, one per key, and their keys."""
        keyed = dict(zip(self.s.registry.keys_for(self.s.passages), self.s.passages, strict=True))
        return list(keyed.values()), list(keyed)

    def fit(self, reply_tokens: int, render: Callable[[int, list[Passage], list[int], int], str],
            passages: list[Passage] | None = None,
            keys: list[int] | None = None) -> tuple[Fit, list[Passage], list[int]]:
        """The prompt fitted to the window (``render(level, passages, keys, chars)``), with
        the passages it shows and their keys."""
        passages, keys = passages or [], keys or []
        fit = fit_prompt(lambda level, n, chars: render(level, passages[:n], keys[:n], chars), len(passages),
                         self.model.count_tokens, self.model.context_window, reply_tokens,
                         levels=self.renderer.view.levels, passage_chars=self.config.passage_max_chars)
        return fit, passages[:fit.passages], keys[:fit.passages]


class Stage(ABC):
    """One phase of the machine: its prompt, grammar, token bound, validation and effect."""

    phase: ClassVar[Phase]
    actions: ClassVar[tuple[str, ...]]
    """The action names a reply in this phase may carry."""

    @abstractmethod
    def grammar(self, config: WarpConfig, keys: Sequence[int] = (), positions: Sequence[str] = (),
                choices: Sequence[Choice] = ()) -> str:
        """The bounded GBNF grammar of a reply in this phase (the embedded model's); with
        ``choices``, the grammar of choosing among them by number."""

    @abstractmethod
    def skeleton(self, config: WarpConfig) -> str:
        """The skeleton GBNF grammar: the reply's tags and JSON shape, nothing bounded."""

    @abstractmethod
    def bound(self, config: WarpConfig) -> int:
        """Tokens a reply admitted by the grammar can take at most."""

    @abstractmethod
    def prepare(self, ctx: Context) -> Turn:
        """Render the prompt of this phase into a turn, without calling the model."""

    @abstractmethod
    def apply(self, ctx: Context, turn: Turn, reply: Reply, step: Step) -> None:
        """Validate the reply (raising ``ActionError``), change the report, move on."""

    def rejected(self, ctx: Context, turn: Turn, step: Step) -> None:  # noqa: B027 - an optional hook, no-op by default
        """After each rejected reply (before any fallback)."""

    def fallback(self, ctx: Context, turn: Turn, step: Step) -> None:  # noqa: B027 - an optional hook, no-op by default
        """What the engine does itself after ``max_retries`` rejections in a row."""

    def max_tokens(self, ctx: Context) -> int:
        """The reply's budget before the window is considered."""
        if ctx.grammar_mode != "full":
            return ctx.config.max_new_tokens
        return min(ctx.config.max_new_tokens, self.bound(ctx.config))

    def choice_bound(self, config: WarpConfig) -> int:
        """Tokens a choice takes at most: the thought, the frame, the numbers."""
        return head_bound(config, CHOICE_THOUGHT_WORDS) + 80 + 4 * max(config.max_sections, config.max_cites)

    def turn(self, ctx: Context, fit: Fit, position: str | None, passages: Sequence[Passage] = (),
             keys: Sequence[int] = (), positions: Sequence[str] = (), choices: Sequence[Choice] = ()) -> Turn:
        """The turn for a fitted prompt (refused when it did not fit)."""
        max_tokens = min(fit.max_tokens, self.choice_bound(ctx.config)) if choices else fit.max_tokens
        request = self.request(ctx, fit.prompt, keys, positions, max_tokens, choices)
        return Turn(self.phase, position, ctx.s.target_id, request, list(passages), list(keys),
                    cut=dict(fit.cut), refusal=fit.refusal, choices=list(choices))

    def request(self, ctx: Context, prompt: str, keys: Sequence[int], positions: Sequence[str], max_tokens: int,
                choices: Sequence[Choice]) -> ChatRequest:
        """The request: the prompt, the grammar of the model's profile (or of the choice),
        sampling settings."""
        c, mode = ctx.config, ctx.grammar_mode
        grammar = None
        if mode != "off" and choices:
            grammar = self.grammar(c, keys, positions, choices)
        elif mode == "full":
            grammar = self.grammar(c, keys, positions)
        elif mode == "skeleton":
            grammar = self.skeleton(c)
        return ChatRequest(
            prompt=prompt,
            grammar=grammar,
            max_tokens=max_tokens,
            temperature=c.temperature,
            top_p=c.top_p,
            seed=None if c.seed is None else c.seed + ctx.s.step,
        )
