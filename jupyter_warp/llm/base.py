"""The one interface every model backend implements: a batch of prompts in, completions out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

from ..records import ChatRequest, Completion


class Backend(ABC):
    """A model the policy can ask. Implementations live one per module in ``jupyter_warp.llm``."""

    name: str = "backend"
    context_window: int = 8192
    supports_grammar: bool = False
    """True where ``ChatRequest.grammar`` is enforced; the policy then sends one."""
    reusable: bool = True
    """Whether one instance may serve several runs (a replay of canned replies may not)."""

    @abstractmethod
    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """Answer every request, in order; one batched call where the backend can batch.

        A request that fails alone returns a Completion with ``finish_reason="error"``;
        a backend that cannot answer at all (server down) raises ``BackendUnavailableError``.
        """

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's prompt, for the prompt budget."""

    def close(self) -> None:
        """Release the model or connections."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
