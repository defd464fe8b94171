"""The question's language, which every section, title and plan must follow.

The script decides first: kana means Japanese, Hangul Korean, Han characters without either
Chinese (English terms inside a Chinese question do not make it English: a CJK character
weighs as much as a Latin word), Cyrillic Russian and so on. Latin-script text goes to
py3langid (a small classifier shipped with its model), which tells French or German from
English; when it is unsure the question is taken as English. Checks of written text compare
scripts, as the reference system does with its CJK shares, and refuse an English section for
a question in another Latin-script language.
"""

from __future__ import annotations

import functools
import re
from typing import Any

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_WORD = re.compile(r"[^\W\d_]+")
_SCRIPTS: dict[str, re.Pattern[str]] = {
    "ru": re.compile(r"[\u0400-\u04ff]"),
    "el": re.compile(r"[\u0370-\u03ff]"),
    "he": re.compile(r"[\u0590-\u05ff]"),
    "ar": re.compile(r"[\u0600-\u06ff]"),
    "hi": re.compile(r"[\u0900-\u097f]"),
    "th": re.compile(r"[\u0e00-\u0e7f]"),
}
LATIN_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "ro", "hu",
                   "tr", "id", "vi", "ca")
"""The Latin-script languages the classifier chooses among."""
NAMES = {
    "en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "fr": "French", "de": "German",
    "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "da": "Danish",
    "no": "Norwegian", "fi": "Finnish", "pl": "Polish", "cs": "Czech", "ro": "Romanian", "hu": "Hungarian",
    "tr": "Turkish", "id": "Indonesian", "vi": "Vietnamese", "ca": "Catalan", "ru": "Russian", "el": "Greek",
    "he": "Hebrew", "ar": "Arabic", "hi": "Hindi", "th": "Thai",
}  # fmt: skip


def language_name(code: str) -> str:
    """``French`` for ``fr``; the code itself for a language without a name here."""
    return NAMES.get(code, code)


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(LATIN_LANGUAGES))
    return ident


def latin_language(text: str, sure: float = 0.5) -> str:
    """The Latin-script language of ``text``; English when the classifier is unsure."""
    if len(_WORD.findall(text)) < 2:
        return "en"
    code, prob = _identifier().classify(text)
    return str(code) if prob >= sure else "en"


def script_units(text: str) -> dict[str, int]:
    """Units of each script: one per CJK character, one per word of other scripts."""
    units = {"han": len(_HAN.findall(text)), "kana": len(_KANA.findall(text)), "hangul": len(_HANGUL.findall(text))}
    words = _WORD.findall(_HAN.sub(" ", _KANA.sub(" ", _HANGUL.sub(" ", text))))
    for word in words:
        script = next((name for name, pattern in _SCRIPTS.items() if pattern.match(word)), "latin")
        units[script] = units.get(script, 0) + 1
    return units


def query_language(query: str) -> str:
    """The language code of a question (``en``, ``zh``, ``ja``, ``ko``, ``fr``, ``ru``...)."""
    units = script_units(query)
    total = sum(units.values())
    if not total:
        return "en"
    if units["kana"]:
        return "ja"
    if units["hangul"] / total >= 0.3:
        return "ko"
    if units["han"] / total >= 0.4:
        return "zh"
    others = {k: v for k, v in units.items() if k in _SCRIPTS and v}
    if others:
        code, count = max(others.items(), key=lambda kv: kv[1])
        if count / total >= 0.5:
            return code
    return latin_language(query)


def language_problem(text: str, language: str) -> str | None:
    """Why ``text`` is not in ``language``, or None. Scripts are compared (the reference's
    rule: over 60% CJK for a Chinese question, under 1% for another one, here counted in
    units so that English terms inside Chinese text do not count letter by letter)."""
    units = script_units(text)
    total = sum(units.values())
    if not total:
        return None
    name = language_name(language)
    cjk = units["han"] + units["kana"] + units["hangul"]
    share = {
        "zh": units["han"] / total, "ja": (units["han"] + units["kana"]) / total, "ko": units["hangul"] / total,
    }  # fmt: skip
    if language in share:
        if share[language] < 0.5:
            return f"the question is in {name} but the text is {share[language]:.0%} {name}"
        if language == "zh" and units["kana"] + units["hangul"] > 0.05 * total:
            return "the question is in Chinese but the text is Japanese or Korean"
        if language == "ja" and units["kana"] < 0.05 * total:
            return "the question is in Japanese but the text has no kana (Chinese?)"
        return None
    if cjk / total > 0.01 + (0.02 if total < 100 else 0.0):
        return f"the question is in {name} but the text is {cjk / total:.0%} CJK"
    if language in _SCRIPTS and units.get(language, 0) / total < 0.5:
        return f"the question is in {name} but the text is mostly in another script"
    if language != "en" and language in LATIN_LANGUAGES and len(text) >= 200 and latin_language(text, 0.9) == "en":
        return f"the question is in {name} but the text is in English"
    return None
