"""A test double: canned replies in order, registered like any other backend.

Engine, widget and UI tests drive the WARP loop with it instead of a model; it records
every request it received so a test can assert on prompts and grammars.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import BackendError, ConfigError
from ..records import ChatRequest, Completion
from .base import Backend, estimate_tokens

Reply = str | dict[str, Any] | Completion


def _completion(reply: Reply) -> Completion:
    """A canned reply as a Completion: a string, a Completion dict, or a step record (``reply``)."""
    if isinstance(reply, Completion):
        return Completion.from_dict(reply.to_dict())
    if isinstance(reply, str):
        return Completion(text=reply)
    if isinstance(reply, dict):
        if "text" in reply:
            return Completion.from_dict(reply)
        if "reply" in reply:
            return Completion(text=str(reply["reply"]))
    raise ConfigError(f"a replay reply must be a string or an object with 'text' or 'reply', got {reply!r}")


class ReplayBackend(Backend):
    """Returns ``replies`` one per request, in order; running out raises ``BackendError``.

    Parameters
    ----------
    replies:
        Strings, ``Completion`` objects, or dicts (``Completion.to_dict()`` form, or a saved
        step with a ``reply`` field).
    supports_grammar:
        What to tell the policy; the replies are returned as given either way.
    context_window:
        The window the prompt budgeter should plan for.
    """

    name = "replay"
    reusable = False
    """Its replies run out: every run gets a fresh one."""

    def __init__(
        self,
        replies: Sequence[Reply],
        *,
        supports_grammar: bool = False,
        context_window: int = 8192,
    ) -> None:
        self.replies = [_completion(r) for r in replies]
        self.requests: list[ChatRequest] = []
        self.supports_grammar = supports_grammar
        self.context_window = context_window
        self._next = 0

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> ReplayBackend:
        """Replies from a JSONL file: one JSON string or object per line."""
        file = Path(path).expanduser()
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read replay file {file}: {exc.strerror or exc}") from exc
        replies = []
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    replies.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{file}:{number}: not JSON ({exc.msg})") from exc
        backend = cls(replies, **options)
        backend.name = f"replay:{file.name}"
        return backend

    @classmethod
    def from_spec(cls, target: str | None, **options: Any) -> ReplayBackend:
        """``replay:FILE.jsonl``, or ``replay`` with ``replies=[...]`` as an option."""
        if target:
            return cls.from_file(target, **options)
        if "replies" not in options:
            raise ConfigError("the replay backend needs replay:FILE.jsonl or replies=[...]")
        return cls(**options)

    @property
    def remaining(self) -> int:
        """Replies not handed out yet."""
        return len(self.replies) - self._next

    def count_tokens(self, text: str) -> int:
        """The estimate the HTTP backend falls back to (CJK a token a character)."""
        return estimate_tokens(text)

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """The next canned replies, in order; running out raises BackendError with the counts."""
        if len(requests) > self.remaining:
            raise BackendError(
                f"the replay backend ran out of replies: {len(self.replies)} given, "
                f"{self._next + len(requests)} asked for; add replies to the test"
            )
        out = []
        for request in requests:
            reply = self.replies[self._next]
            self._next += 1
            self.requests.append(request)
            completion = Completion.from_dict(reply.to_dict())
            completion.prompt_tokens = completion.prompt_tokens or self.count_tokens(request.prompt)
            completion.completion_tokens = completion.completion_tokens or self.count_tokens(completion.text)
            out.append(completion)
        return out
