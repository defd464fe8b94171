"""Pieces of the bounded GBNF grammars the stages share.

The embedded 135M model almost never follows the action format unconstrained, and rambles
until the token limit when the grammar is unbounded (DESIGN.md's measurements), so every
part is capped: the thought, each string, each list. The text is GBNF in the subset that
xgrammar (transformers, vLLM) and llama.cpp both read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..config import WarpConfig


def lit(text: str) -> str:
    """A GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)


def alts(values: Sequence[str]) -> str:
    """One of ``values``, each as a literal."""
    return " | ".join(lit(v) for v in values)


def rep(rule: str, low: int, high: int) -> str:
    """``rule`` repeated ``low`` to ``high`` times."""
    return f"{rule}{{{low},{high}}}" if high > low else f"{rule}{{{low}}}"


def seq(item: str, low: int, high: int) -> str:
    """``item (", " item){low-1,high-1}``."""
    return f'{item} (", " {item}){{{max(0, low - 1)},{max(0, high - 1)}}}'


def thought(config: WarpConfig, max_words: int | None = None) -> str:
    """The thought, capped in words: a character cap near its end makes xgrammar's mask
    slow (5 to 19 ms a token at 270 of 300 characters), a word cap keeps it under 1 ms.
    ``max_words`` caps it further (before a choice of a few tokens)."""
    words = max(1, config.thought_max_chars // 5)
    if max_words is not None:
        words = max(1, min(words, max_words))
    return f'thought ::= [^<\\x00-\\x20\\x7f]{{1,30}} (" " [^<\\x00-\\x20\\x7f]{{1,30}}){{0,{words - 1}}}'


def head(config: WarpConfig, action: str = "action", max_words: int | None = None) -> list[str]:
    """The reply's frame: a thought, then the action between tags."""
    return [
        f'root ::= "<thought>" thought "</thought>\\n<action>" {action} "</action>"',
        thought(config, max_words),
        'chr ::= [^"\\\\<\\x00-\\x1f\\x7f]',
    ]


def string(name: str, limit: int) -> str:
    """Rule ``name``: a JSON string of 1 to ``limit`` characters, with no quote, backslash or ``<``."""
    return f'{name} ::= "\\"" chr{{1,{limit}}} "\\""'


def titled(name: str, low: int, high: int) -> list[str]:
    """A list of ``{"title": ..., "plan": ...}`` objects (plans and extensions)."""
    return [
        f"{name} ::= {seq('sec', low, high)}",
        'sec ::= "{\\"title\\": " short ", \\"plan\\": " long "}"',
        string("short", 80),
        string("long", 240),
    ]


def head_bound(config: WarpConfig, max_words: int | None = None) -> int:
    """Tokens the frame and thought take at most (one character a token at worst)."""
    words = config.thought_max_chars // 5 if max_words is None else min(config.thought_max_chars // 5, max_words)
    return words * 31 + 40


# The skeleton grammar: the reply's shape only, for models that need no bounds.
JSON_RULES = [
    "ws ::= [ \\t\\n\\r]*",
    'jstr ::= "\\"" ([^"\\\\\\x00-\\x1f] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4}))* "\\""',
]
"""JSON whitespace and strings (any length, escapes as JSON has them)."""


def jkey(name: str) -> str:
    """``"name"`` followed by a colon, JSON whitespace allowed around it."""
    return f'"\\"{name}\\"" ws ":" ws'


def jlist(item: str) -> str:
    """A non-empty JSON array of ``item``."""
    return f'"[" ws {item} (ws "," ws {item})* ws "]"'


def excluding(name: str, stop: str) -> list[str]:
    """Rules for any text that does not contain ``stop`` (a closing tag: its first
    character occurs nowhere else in it), so the tag after it is the one that closes.

    A state machine over the tag's prefixes: ``{name}-r{i}`` follows a ``<`` and the first
    ``i`` characters after it; a character that breaks the match returns to plain text, a
    ``<`` starts over; ``{name}-e{i}`` is the same for a prefix left open at the end.
    """
    first, rest = stop[0], stop[1:]
    if any(c in "]\\^-" for c in stop) or first in rest:
        raise ValueError(f"cannot exclude {stop!r}")
    rules = [f"{name} ::= ([^{first}] | {lit(first)} {name}-r0)* ({lit(first)} {name}-e0)?"]
    for i, char in enumerate(rest):
        last = i == len(rest) - 1
        more = "" if last else f" | {lit(char)} {name}-r{i + 1}"
        rules.append(f"{name}-r{i} ::= [^{char}{first}] | {lit(first)} {name}-r0{more}")
        tail = "" if last else f" | {lit(char)} {name}-e{i + 1}"
        rules.append(f"{name}-e{i} ::= ({lit(first)} {name}-e0{tail})?")
    return rules


def skeleton_frame(action: str, *, json_action: bool = True) -> list[str]:
    """A free thought, then the action between tags; JSON actions may be padded with spaces."""
    pad = " ws " if json_action else " "
    return [
        f'root ::= "<thought>" sthought "</thought>" ws "<action>"{pad}{action}{pad}"</action>"',
        *excluding("sthought", "</thought>"),
        *JSON_RULES,
    ]
