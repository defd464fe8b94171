"""The one interface every model backend implements: a batch of prompts in, completions out."""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from ..records import ChatRequest, Completion

_WIDE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
"""CJK ideographs, kana, Hangul and full-width forms: about one token a character."""


def estimate_tokens(text: str) -> int:
    """A token count without the model's tokenizer, for when the server cannot count.

    CJK text takes about one token a character, other text about four characters a
    token (BPE vocabularies average four to five on English prose).
    """
    wide = len(_WIDE.findall(text))
    return wide + math.ceil((len(text) - wide) / 4)


def positive_option(name: str, value: object, kind: type = float) -> Any:
    """A backend option that must be a positive number (a string of one, from a command line, too)."""
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or number <= 0:
        raise ConfigError(f"backend option {name} must be a positive number, got {value!r}")
    return number


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

    def close(self) -> None:  # noqa: B027 - an optional hook: a backend that holds nothing keeps this no-op
        """Release the model or connections."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
