"""Citations: each passage keyed once per run, both citation syntaxes checked against the
passages shown, and the final renumbering ``[1]``, ``[2]``... with a References list."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .records import Passage

_CITE_CMD = re.compile(r"\\cite[tp]?\{([^}]*)\}")
_BRACKET = re.compile(r"\[((?:\s*(?:textid|id)?\d+\s*[,;]?)+)\]", re.IGNORECASE)
_KEY = re.compile(r"(?:textid|id)?(\d+)", re.IGNORECASE)
_RUN_KEY = re.compile(r"\[(\d+)\]")


@dataclass
class CitationRegistry:
    """Run-wide passage keys: the same passage always gets the same ``[n]`` in prompts."""

    passages: dict[int, Passage] = field(default_factory=dict)
    _by_doc: dict[str, int] = field(default_factory=dict)

    def key_for(self, passage: Passage) -> int:
        key = self._by_doc.get(passage.doc_id)
        if key is None:
            key = len(self.passages) + 1
            self.passages[key] = passage
            self._by_doc[passage.doc_id] = key
        return key

    def keys_for(self, passages: Iterable[Passage]) -> list[int]:
        return [self.key_for(p) for p in passages]

    def to_dict(self) -> dict[str, Any]:
        return {str(k): p.to_dict() for k, p in self.passages.items()}

    @classmethod
    def from_list(cls, passages: Iterable[Passage]) -> CitationRegistry:
        """Keys 1, 2, ... in order, as ``passages.jsonl`` stores them."""
        reg = cls()
        for p in passages:
            reg.key_for(p)
        return reg

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CitationRegistry:
        reg = cls()
        for key, p in sorted(data.items(), key=lambda kv: int(kv[0])):
            passage = Passage.from_dict(p)
            reg.passages[int(key)] = passage
            reg._by_doc[passage.doc_id] = int(key)
        return reg


@dataclass
class CheckedText:
    text: str
    """The text with every citation in the ``[k]`` form, unknown keys removed."""
    cited: list[int]
    """Valid keys in order of first use."""
    removed: int
    """Citations naming a key that was not shown for this write."""


def check_citations(text: str, allowed: Iterable[int]) -> CheckedText:
    """Normalise ``\\cite{textid7, textid2}``, ``[7, 2]`` and ``[textid7]`` to ``[7][2]``,
    keeping only keys in ``allowed``."""
    allowed_set = set(allowed)
    removed = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal removed
        out = []
        for raw in re.split(r"[,;]", match.group(1)):
            key_match = _KEY.search(raw.strip())
            if not key_match:
                continue
            key = int(key_match.group(1))
            if key in allowed_set:
                out.append(f"[{key}]")
            else:
                removed += 1
        return "".join(out)

    text = _CITE_CMD.sub(replace, text)
    text = _BRACKET.sub(replace, text)
    text = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", text))
    cited = dict.fromkeys(int(k) for k in _RUN_KEY.findall(text))  # in the text's order, whatever the syntax
    return CheckedText(text=text.strip(), cited=list(cited), removed=removed)


def renumberer(order: list[int]):  # type: ignore[no-untyped-def]
    """A function rewriting ``[key]`` to ``[n]``, n being the key's rank in ``order``."""
    rank = {key: n for n, key in enumerate(order, 1)}

    def renumber(text: str) -> str:
        return _RUN_KEY.sub(lambda m: f"[{rank[int(m.group(1))]}]" if int(m.group(1)) in rank else "", text)

    return renumber


def reference_lines(order: list[int], registry: CitationRegistry) -> list[str]:
    """One line per cited passage, numbered as in the renumbered report."""
    lines = []
    for n, key in enumerate(order, 1):
        p = registry.passages[key]
        label = f"{p.title} — " if p.title else ""
        lines.append(f"[{n}] {label}{p.location()}")
    return lines
