"""The records every part reads: passages, model requests and replies, steps.

Interfaces come before implementations: the policy needs only these, a backend
(``jupyter_warp.llm.Backend``) and a searcher (``jupyter_warp.corpus.Searcher``).
Every record round-trips through ``to_dict``/``from_dict`` (plain JSON types).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build a dataclass from a dict, ignoring keys a newer version may have added."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""Control characters, line and paragraph separators, bidirectional overrides, and the lone
surrogates that stand for undecodable bytes of a file name: none may reach a one-line listing."""


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if "\udc80" <= char <= "\udcff":  # a byte of a non-UTF-8 file name, as os.fsdecode keeps it
        return f"\\x{ord(char) - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
    """``text`` on one line: a newline becomes ``\\n``, other control characters ``\\x1b``-style escapes."""
    return _UNSAFE.sub(_escape, text)


def _display_path(path: str) -> str:
    """A path relative to the working folder when it lies inside it, else as stored."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


@dataclass
class Passage:
    """A retrievable piece of a document, with enough location to cite it exactly."""

    doc_id: str
    """Stable id of the passage in the index (path plus passage number)."""
    text: str
    path: str
    title: str = ""
    page: int | None = None
    start: int = 0
    end: int = 0
    heading: str = ""
    """Heading path inside the document, ``"Intro > Background"``."""
    score: float = 0.0

    def location(self) -> str:
        """Where the passage is: file, page and heading, for reference lists."""
        parts = [printable(_display_path(self.path))]
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.heading:
            parts.append(f"§ {printable(self.heading)}")
        parts.append(f"chars {self.start}-{self.end}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in ``passages.jsonl``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        """Inverse of ``to_dict``."""
        return _from_dict(cls, data)


class Searcher(Protocol):
    """What the policy needs from a corpus."""

    def search_many(self, queries: Sequence[str], k: int) -> list[Passage]:
        """Top ``k`` passages for 1 to 5 keyword queries, shared out, de-duplicated."""
        ...


@dataclass
class ChatRequest:
    """One prompt for the model: a single user message, optionally constrained."""

    prompt: str
    grammar: str | None = None
    """A GBNF grammar (the dialect xgrammar and llama.cpp both read) the reply must match."""
    max_tokens: int = 1024
    temperature: float = 0.7
    top_p: float = 0.8
    seed: int | None = None

    def messages(self) -> list[dict[str, str]]:
        """The chat messages a chat-template backend sends: the prompt as one user turn."""
        return [{"role": "user", "content": self.prompt}]


@dataclass
class Completion:
    """A model's reply to one request."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str = "stop"
    """``stop``, ``length`` (cut off at max_tokens) or ``error``."""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, for logs and replay files."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Completion:
        """Inverse of ``to_dict``."""
        return _from_dict(cls, data)


@dataclass
class Step:
    """One model turn of the WARP loop, as the widgets, the checkpoint and the bench read it."""

    index: int
    state: str
    """``search``, ``init_plan``, ``write`` or ``extend_plan``."""
    position: str | None = None
    """The node the step worked for (the cursor), if any."""
    prompt: str = ""
    reply: str = ""
    thought: str = ""
    action: dict[str, Any] | None = None
    error: str | None = None
    """Why the reply was rejected; the state is then retried or falls back."""
    fallback: str | None = None
    """What the engine did instead after repeated failures, if anything."""
    passages: list[Passage] = field(default_factory=list)
    """Passages shown to the model (write, init_plan) or retrieved (search)."""
    keys: list[int] = field(default_factory=list)
    """Run-wide citation keys of ``passages``, in the same order."""
    diff: list[str] = field(default_factory=list)
    """What changed in the report, one line per change."""
    cut: dict[str, int] = field(default_factory=dict)
    """What the prompt budgeter dropped to fit the context window."""
    removed_citations: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    started_at: float = 0.0
    ended_at: float = 0.0
    next_state: str = ""

    @property
    def ok(self) -> bool:
        """Whether the reply was accepted."""
        return self.error is None

    def to_dict(self, passages: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; ``passages=False`` leaves the passages out (a run's step log
        names them by ``keys``; their texts are in the run's ``passages.jsonl``)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "passages"}
        data["action"] = json.loads(json.dumps(self.action)) if self.action is not None else None
        data["keys"], data["diff"], data["cut"] = list(self.keys), list(self.diff), dict(self.cut)
        if passages:
            data["passages"] = [p.to_dict() for p in self.passages]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], lookup: Callable[[int], Passage] | None = None) -> Step:
        """Inverse of ``to_dict``; ``lookup`` turns keys back into passages when they were left out."""
        step = _from_dict(cls, data)
        if "passages" in data:
            step.passages = [Passage.from_dict(p) for p in data["passages"]]
        elif lookup is not None:
            step.passages = [lookup(k) for k in step.keys]
        return step
