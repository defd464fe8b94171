"""What every stage shares: the prepared turn, what the machine knows of the model, the
context a stage works in, and the interface each stage implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ..budget import Render, fit_prompt
from ..config import WarpConfig
from ..prompts import PromptRenderer
from ..records import ChatRequest, Passage, Searcher, Step
from ..state import RunState
from . import Phase
from .reply import Reply


@dataclass
class ModelInfo:
    """What the machine needs to know about the backend to build prompts."""

    count_tokens: Callable[[str], int]
    context_window: int = 8192
    supports_grammar: bool = False


@dataclass
class Turn:
    """A prepared model turn: the request and what the reply will be checked against."""

    phase: Phase
    position: str | None
    target_id: str | None
    request: ChatRequest
    passages: list[Passage] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)
    extendable: list[str] = field(default_factory=list)
    cut: dict[str, int] = field(default_factory=dict)
    started_at: float = 0.0


@dataclass
class Context:
    """One run's state and the collaborators a stage may use (no I/O besides the searcher)."""

    s: RunState
    searcher: Searcher
    model: ModelInfo
    renderer: PromptRenderer

    @property
    def config(self) -> WarpConfig:
        return self.s.config

    @property
    def constrained(self) -> bool:
        return self.config.constrained and self.model.supports_grammar

    def variables(self) -> dict[str, object]:
        """Template variables every prompt gets besides the reference system's five."""
        c = self.config
        return {
            "user_query": self.s.query,
            "language": self.s.language,
            "max_keywords": c.max_keywords,
            "min_sections": c.min_sections,
            "max_sections": c.max_sections,
            "min_subsections": c.min_subsections,
            "max_subsections": c.max_subsections,
        }

    def cursor(self) -> tuple[str | None, str]:
        """The cursor's position and the instruction describing what it must cover."""
        entry = self.s.report.by_id(self.s.target_id)
        if entry is None:
            return None, "first search: find the evidence needed to plan a report that answers the question"
        pos, node, _ = entry
        return pos, f"update {pos} [{node.title}]: {node.plan}"

    def fit(self, max_tokens: int, render: Render) -> tuple[str, list[Passage], dict[str, int]]:
        """The prompt fitted to the window, the passages it shows, and what was cut."""
        return fit_prompt(render, self.s.passages, self.model.count_tokens, self.model.context_window,
                          max_tokens, self.config.passage_max_chars)


class Stage(ABC):
    """One phase of the machine: its prompt, grammar, token bound, validation and effect."""

    phase: ClassVar[Phase]
    actions: ClassVar[tuple[str, ...]]
    """The action names a reply in this phase may carry."""

    @abstractmethod
    def grammar(self, config: WarpConfig, keys: Sequence[int] = (), positions: Sequence[str] = ()) -> str:
        """The bounded GBNF grammar of a reply in this phase."""

    @abstractmethod
    def bound(self, config: WarpConfig) -> int:
        """Tokens a reply admitted by the grammar can take at most."""

    @abstractmethod
    def prepare(self, ctx: Context) -> Turn:
        """Render the prompt of this phase into a turn, without calling the model."""

    @abstractmethod
    def apply(self, ctx: Context, turn: Turn, reply: Reply, step: Step) -> None:
        """Validate the reply (raising ``ActionError``), change the report, move on."""

    def rejected(self, ctx: Context, turn: Turn, step: Step) -> None:
        """After each rejected reply (before any fallback)."""

    def fallback(self, ctx: Context, turn: Turn, step: Step) -> None:
        """What the engine does itself after ``max_retries`` rejections in a row."""

    def max_tokens(self, ctx: Context) -> int:
        if not ctx.constrained:
            return ctx.config.max_new_tokens
        return min(ctx.config.max_new_tokens, self.bound(ctx.config))

    def request(self, ctx: Context, prompt: str, keys: Sequence[int] = (), positions: Sequence[str] = ()) -> ChatRequest:
        c = ctx.config
        return ChatRequest(
            prompt=prompt,
            grammar=self.grammar(c, keys, positions) if ctx.constrained else None,
            max_tokens=self.max_tokens(ctx),
            temperature=c.temperature,
            top_p=c.top_p,
            seed=None if c.seed is None else c.seed + ctx.s.step,
        )
