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
    return " | ".join(lit(v) for v in values)


def rep(rule: str, low: int, high: int) -> str:
    return f"{rule}{{{low},{high}}}" if high > low else f"{rule}{{{low}}}"


def seq(item: str, low: int, high: int) -> str:
    """``item (", " item){low-1,high-1}``."""
    return f'{item} (", " {item}){{{max(0, low - 1)},{max(0, high - 1)}}}'


def thought(config: WarpConfig) -> str:
    """The thought, capped in words: a character cap near its end makes xgrammar's mask
    slow (5 to 19 ms a token at 270 of 300 characters), a word cap keeps it under 1 ms."""
    words = max(1, config.thought_max_chars // 5)
    return f'thought ::= [^<\\n ]{{1,30}} (" " [^<\\n ]{{1,30}}){{0,{words - 1}}}'


def head(config: WarpConfig, action: str = "action") -> list[str]:
    """The reply's frame: a thought, then the action between tags."""
    return [
        f'root ::= "<thought>" thought "</thought>\\n<action>" {action} "</action>"',
        thought(config),
        'chr ::= [^"\\\\<\\n\\r\\t]',
    ]


def string(name: str, limit: int) -> str:
    return f'{name} ::= "\\"" chr{{1,{limit}}} "\\""'


def titled(name: str, low: int, high: int) -> list[str]:
    """A list of ``{"title": ..., "plan": ...}`` objects (plans and extensions)."""
    return [
        f"{name} ::= {seq('sec', low, high)}",
        'sec ::= "{\\"title\\": " short ", \\"plan\\": " long "}"',
        string("short", 80),
        string("long", 240),
    ]


def head_bound(config: WarpConfig) -> int:
    """Tokens the frame and thought take at most (one character a token at worst)."""
    return config.thought_max_chars // 5 * 31 + 40
