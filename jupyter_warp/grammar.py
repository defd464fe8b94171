"""Bounded GBNF grammars for the action format, one per state.

The embedded 135M model almost never follows the format unconstrained, and rambles until
the token limit when the grammar is unbounded (DESIGN.md's measurements), so every part is
capped: the thought, each string, each list, the written body. The grammar also narrows
choices to valid ones (citation keys shown in this step, positions that may be extended).
The text is GBNF in the subset xgrammar (transformers, vLLM) and llama.cpp both read.
"""

from __future__ import annotations

import json
from typing import Sequence

from .config import WarpConfig

_SEGMENT_CHARS = 250
"""Characters of running text between two citations in a written section."""


def _lit(text: str) -> str:
    """A GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)


def _alts(values: Sequence[str]) -> str:
    return " | ".join(_lit(v) for v in values)


def _rep(rule: str, low: int, high: int) -> str:
    return f"{rule}{{{low},{high}}}" if high > low else f"{rule}{{{low}}}"


def _list(item: str, low: int, high: int) -> str:
    """``item (", " item){low-1,high-1}``."""
    return f'{item} (", " {item}){{{max(0, low - 1)},{max(0, high - 1)}}}'


def _thought(config: WarpConfig) -> str:
    """The thought, capped in words: a character cap near its end makes xgrammar's mask
    slow (5 to 19 ms a token at 270 of 300 characters), a word cap keeps it under 1 ms."""
    words = max(1, config.thought_max_chars // 5)
    return f'thought ::= [^<\\n ]{{1,30}} (" " [^<\\n ]{{1,30}}){{0,{words - 1}}}'


def _head(config: WarpConfig) -> list[str]:
    return [
        'root ::= "<thought>" thought "</thought>\\n<action>" action "</action>"',
        _thought(config),
        'chr ::= [^"\\\\<\\n\\r\\t]',
    ]


def _str(name: str, limit: int) -> str:
    return f'{name} ::= "\\"" chr{{1,{limit}}} "\\""'


def _sections_rule(name: str, low: int, high: int) -> list[str]:
    return [
        f"{name} ::= {_list('sec', low, high)}",
        'sec ::= "{\\"title\\": " short ", \\"plan\\": " long "}"',
        _str("short", 80),
        _str("long", 240),
    ]


def search_grammar(config: WarpConfig) -> str:
    return "\n".join(
        _head(config)
        + [
            'action ::= "{\\"name\\": \\"search\\", \\"keywords\\": [" kws "]}"',
            f"kws ::= {_list('kw', 1, config.max_keywords)}",
            _str("kw", 60),
        ]
    )


def init_plan_grammar(config: WarpConfig) -> str:
    return "\n".join(
        _head(config)
        + [
            'action ::= "{\\"name\\": \\"init-plan\\", \\"title\\": " short ", \\"sections\\": [" secs "]}"',
        ]
        + _sections_rule("secs", config.min_sections, config.max_sections)
    )


def extend_grammar(config: WarpConfig, positions: Sequence[str]) -> str:
    """Extend one of ``positions`` (written leaves above the depth limit), or stop."""
    rules = _head(config)
    if not positions:
        return "\n".join(rules + ['action ::= "{\\"name\\": \\"nop\\"}"'])
    return "\n".join(
        rules
        + [
            'action ::= extend | "{\\"name\\": \\"nop\\"}"',
            'extend ::= "{\\"name\\": \\"extend-plan\\", \\"position\\": \\"" pos "\\", \\"subsections\\": [" secs "]}"',
            f"pos ::= {_alts(positions)}",
        ]
        + _sections_rule("secs", config.min_subsections, config.max_subsections)
    )


def write_grammar(config: WarpConfig, keys: Sequence[int]) -> str:
    """Sentences of plain text, each run ending in a citation of a key shown in this step."""
    segments = max(1, config.write_max_chars // (_SEGMENT_CHARS + 6))
    key_alts = _alts([str(k) for k in keys]) if keys else '"1"'
    return "\n".join(
        [
            'root ::= "<thought>" thought "</thought>\\n<action>" body "</action>"',
            _thought(config),
            f"body ::= {_rep('seg', 1, segments)}",
            f'seg ::= first txt{{19,{_SEGMENT_CHARS - 1}}} " " cite cite? end',
            'first ::= [^<#\\[\\]\\n\\t "*-]',
            "txt ::= [^<#\\[\\]\\n\\t]",
            'cite ::= "[" key "]"',
            f"key ::= {key_alts}",
            'end ::= "."? (" " | "\\n\\n")',
        ]
    )


def grammar_for(state: str, config: WarpConfig, keys: Sequence[int] = (), positions: Sequence[str] = ()) -> str:
    if state == "search":
        return search_grammar(config)
    if state == "init_plan":
        return init_plan_grammar(config)
    if state == "write":
        return write_grammar(config, keys)
    if state == "extend_plan":
        return extend_grammar(config, positions)
    raise ValueError(f"no grammar for state {state!r}")


def max_tokens_for(state: str, config: WarpConfig, constrained: bool) -> int:
    """A token limit the bounded reply always fits in (one character a token at worst)."""
    if not constrained:
        return config.max_new_tokens
    head = config.thought_max_chars // 5 * 31 + 40
    bound = {
        "search": head + config.max_keywords * 64 + 60,
        "init_plan": head + 100 + config.max_sections * 350,
        "write": head + config.write_max_chars + 200,
        "extend_plan": head + 100 + config.max_subsections * 350,
    }[state]
    return min(config.max_new_tokens, bound)
