"""The question's language, which every section, title and plan must follow."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")


def cjk_ratio(text: str) -> float:
    """Share of CJK characters among letters (digits, spaces and punctuation not counted)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _CJK.match(c)) / len(letters)


def query_language(query: str) -> str:
    """``zh`` when the question is mostly Chinese, else ``en``; the report follows it."""
    return "zh" if cjk_ratio(query) > 0.3 else "en"


def language_problem(text: str, language: str) -> str | None:
    """Why ``text`` is not in ``language`` (the reference's CJK shares), or None."""
    ratio = cjk_ratio(text)
    if language == "zh" and ratio < 0.6:
        return f"the question is in Chinese but the section is {ratio:.0%} Chinese"
    if language == "en" and ratio > 0.01:
        return f"the question is in English but the section is {ratio:.0%} CJK"
    return None
