"""Text the engine reads for itself, without a model: words and content terms, the sentences
of a passage that can be quoted, a question's key phrases, keywords that are noise, and the
checks every written text passes (no copied instruction, no repetition).

Words and content terms follow the model-free metrics (``evaluate.text``): Latin runs of
letters and digits, jieba's words for Chinese and Japanese, stop words dropped, English
stemmed as the index stems it; so what the engine picks is what the metrics count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from ..corpus.analysis import CJK, segmenter

_RUN = re.compile(rf"([{CJK}]+)|([^\W{CJK}_]+(?:['’][^\W{CJK}_]+)*)")
_CJK_CHAR = re.compile(rf"[{CJK}]")
_KATAKANA = re.compile(r"([\u30a0-\u30ff]+)")
_CITATION = re.compile(r"\\cite[tp]?\{[^}]*\}|【[^】\n]{0,40}】|\[[^\]\n]{0,40}\]")
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’')]))\s+(?=[\"“‘(]?[^\W_a-z])|(?<=[。！？])")
"""Where one sentence ends and the next begins: after ``. ! ?`` (and a closing quote) and a
space, before a capital, digit or CJK character; after ``。！？``."""
_ANY_END = re.compile(r"(?<=[.!?。！？])\s*")
_ENDS = re.compile(r"[^\W_][\"”’')]?[.!?。！？]$")
"""A whole sentence ends in its stop, right after a word (or a closing quote): a stop inside
quotes (``‘on the way out.’``) would keep its citation from following it."""
_CODE_LINE = re.compile(r"^(?: {2,}|\t)\S")
_LIST_MARK = re.compile(r"^(?:[-*+>]|\d+[.)])\s+")
_ITEM_MARK = re.compile(r"^(?:[-*+]|\d+[.)])\s+")
_NOT_PROSE = re.compile(r"::=|```|>>>|\||\\|</?[A-Za-z][^>]*>|https?://|\s{2,}|[{}]")
QUESTION_WORDS = frozenset({"how", "what", "why", "which", "who", "whom", "whose", "when", "where", "does", "do",
                            "did", "explain", "describe", "compare", "way", "ways"})
"""Words of a question that ask rather than name what is asked about."""


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from stopwords import get_stopwords
    from whoosh.analysis.filters import STOP_WORDS

    return frozenset(w.lower() for words in (STOP_WORDS, get_stopwords("english"), get_stopwords("chinese"))
                     for w in words)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English stem of ``word`` (Whoosh's stemmer, as the index uses)."""
    from whoosh.lang import stemmer_for_language

    return str(stemmer_for_language("en")(word))


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a Chinese or Japanese character."""
    return _CJK_CHAR.search(text) is not None


def words(text: str) -> list[str]:
    """Lower-case words in reading order: Latin runs as they are, CJK runs by jieba (a run
    of katakana, which jieba's Chinese dictionary splits into letters, stays one word)."""
    out: list[str] = []
    for match in _RUN.finditer(text):
        if match.group(1):
            for i, part in enumerate(_KATAKANA.split(match.group(1))):
                out += [part] if i % 2 else [w for w in segmenter().lcut(part) if w.strip()]
        else:
            out.append(match.group(2).lower())
    return out


def is_content(word: str) -> bool:
    """Not a stop word, and not a single Latin letter or CJK character."""
    if word in _stop_words():
        return False
    if _CJK_CHAR.match(word):
        return len(word) >= 2
    return len(word) >= 2 or word.isdigit()


def terms(text: str) -> list[str]:
    """Content terms of ``text`` in order: stop words dropped, English stemmed."""
    return [w if _CJK_CHAR.match(w) else stem(w) for w in words(text) if is_content(w)]


def topic_terms(text: str) -> set[str]:
    """Content terms that name a subject (a question's "how", "does" and "explain" dropped)."""
    return {t for t, w in ((stem(w) if not _CJK_CHAR.match(w) else w, w) for w in words(text))
            if is_content(w) and w not in QUESTION_WORDS} if text else set()


def key_phrases(question: str) -> list[frozenset[str]]:
    """The question's own key phrases: runs of content words between stop words and
    punctuation ("the try statement and exception handlers" gives {try, statement} and
    {exception, handler}), as sets of terms, phrases of one term left out."""
    phrases: list[frozenset[str]] = []
    for part in re.split(r"[,;:.?!()，；：。？！（）、]", question):
        run: list[str] = []
        for w in words(part) + [""]:
            if w and is_content(w) and w not in QUESTION_WORDS:
                run.append(w if _CJK_CHAR.match(w) else stem(w))
                continue
            if len(run) >= 2:
                phrases.append(frozenset(run))
            run = []
    return list(dict.fromkeys(phrases))


# Sentences of a passage.
_TASK = re.compile(r"^(?P<lead>[^`]+:) `(?P<code>[^`\n]{1,150})`$")
"""A task and its one-line command (``Rebase a branch: `git rebase main```), as tldr pages
and most Markdown how-tos write them: a list item ending in a colon, then the command."""


def passage_blocks(text: str) -> list[tuple[str, str]]:
    """A passage's paragraphs and list items as ``("prose", text)`` (list and quote markers
    removed, headings and tables left out, whitespace normalised) and its code as
    ``("code", line)`` (one line; ``""`` for longer code)."""
    out: list[tuple[str, str]] = []
    fenced: list[str] | None = None
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if fenced is not None or lines[0].lstrip().startswith(("```", "~~~")):
            fenced = (fenced or []) + lines
            if len(fenced) > 1 and sum(line.lstrip().startswith(("```", "~~~")) for line in fenced) % 2 == 0:
                body = fenced[1:-1]
                out.append(("code", body[0].strip() if len(body) == 1 else ""))
                fenced = None
            continue
        if sum(bool(_CODE_LINE.match(line)) for line in lines) * 2 >= len(lines):
            out.append(("code", lines[0].strip() if len(lines) == 1 else ""))
            continue
        if len(lines) == 1 and re.fullmatch(r"`[^`]+`", lines[0].strip()):
            out.append(("code", lines[0].strip()[1:-1]))
            continue
        items: list[list[str]] = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("#"):
                continue
            if not items or _ITEM_MARK.match(stripped):
                items.append([])
            items[-1].append(_LIST_MARK.sub("", stripped))
        out += [("prose", flat) for flat in (" ".join(" ".join(item).split()) for item in items) if flat]
    return out


def sentences(text: str) -> list[str]:
    """The sentences of a passage's prose, in order, whitespace normalised."""
    return [s.strip() for kind, block in passage_blocks(text) if kind == "prose"
            for s in _SENTENCE_END.split(block) if s and s.strip()]


def units(text: str) -> list[str]:
    """What a section may quote from a passage, in order: its sentences, and each task that
    ends in a colon joined to the one-line command after it (``Task: `command```)."""
    out: list[str] = []
    after_prose = False
    for kind, block in passage_blocks(text):
        if kind == "prose":
            out += [s.strip() for s in _SENTENCE_END.split(block) if s and s.strip()]
        elif block and after_prose and out and out[-1].endswith(":") and "`" not in block:
            out[-1] = f"{out[-1]} `{block}`"
        after_prose = kind == "prose"
    return out


def is_task(unit: str) -> bool:
    """Whether ``unit`` is a task with its command (it ends in code, not in a stop)."""
    return _TASK.match(unit) is not None


def quotable(sentence: str, min_chars: int = 40, max_chars: int = 400) -> bool:
    """A sentence a reader can take alone: a whole sentence of prose (capital or CJK first,
    final punctuation last), of ``min_chars`` to ``max_chars`` (a CJK character counts as
    two), mostly letters, no code; or a task with its one-line command."""
    task = _TASK.match(sentence)
    if task:
        lead = task.group("lead")
        return (len(sentence) <= max_chars and _quotable_start(lead) and not _NOT_PROSE.search(lead)
                and not re.search(r"[.!?]\s", lead) and len(words(lead)) >= 4 and "<" not in task.group("code"))
    if not min_chars <= len(sentence) + len(_CJK_CHAR.findall(sentence)) <= max_chars or _NOT_PROSE.search(sentence):
        return False
    if not _quotable_start(sentence) or not _ENDS.search(sentence):
        return False
    if re.search(r"[.!?]\s", sentence):  # "etc. have": read as two sentences by the eval, half uncited
        return False
    letters = sum(c.isalpha() for c in sentence)
    if letters < 0.7 * len(sentence.replace(" ", "")):
        return False
    return bool(_CJK_CHAR.search(sentence)) or len(words(sentence)) >= 6


def _quotable_start(text: str) -> bool:
    first = text.lstrip("\"“‘'(")[:1]
    return bool(first) and not first.islower() and bool(first.isalnum() or _CJK_CHAR.match(first))


def ngrams(items: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """Every run of ``n`` consecutive items."""
    return [tuple(items[i:i + n]) for i in range(len(items) - n + 1)]


# Keywords that are noise.
_CHAR_RUN = re.compile(r"([^\d\s])\1{3,}")
_SPELLED = re.compile(r"(?:(?<![^\W_])[^\W_][-_./:]){3,}")
_CHAIN = re.compile(r"[^\W_]+(?:_+[^\W_]+){3,}|[^\W_]+(?:[-_]+[^\W_]+){4,}")


def noise(keyword: str) -> str | None:
    """Why a search keyword is noise (None: it is not): a run of one character
    (``aaaa``, ``with-f-f-f-f``), one word repeated, a long underscore chain
    (``the_key_to_the_great_problem``) or hyphen chain (``try-except-finally-with-...``),
    or no word of two letters or more."""
    text = keyword.strip()
    found = words(text)
    if not any(len(w) >= 2 and not w.isdigit() and is_content(w) for w in found):
        return "no content word"
    if _CHAR_RUN.search(text) or _SPELLED.search(text):
        return "a run of one character"
    if len(found) >= 3 and sum(len(w) == 1 for w in found) * 2 >= len(found):
        return "a run of one character"
    if len(found) >= 2 and len(set(found)) * 2 <= len(found) or any(found.count(w) >= 3 for w in set(found)):
        return "one word repeated"
    if _CHAIN.search(text):
        return "a long chain of joined words"
    return None


def clean_keywords(keywords: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """The keywords worth searching, and those dropped with the reason."""
    kept: list[str] = []
    dropped: dict[str, str] = {}
    for keyword in keywords:
        why = noise(keyword)
        if why:
            dropped[keyword] = why
        else:
            kept.append(keyword)
    return kept, dropped


# What no written text may do, in any mode.
COPY_N = 5
"""Words in an instruction phrase (the engine's check and ``evaluate.instructions`` both);
five ordinary words rarely repeat a prompt by chance."""
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_BREAK = re.compile(r"\n|<[^<>\n]{0,60}>|\*\*")


def template_segments(source: str) -> list[str]:
    """The fixed text of a template in pieces that no phrase may span (a Jinja expression,
    a line break or a placeholder: a phrase is text the model was shown)."""
    pieces: list[str] = []
    for chunk in _JINJA.split(source):
        pieces += [p.strip() for p in _BREAK.split(chunk) if p.strip()]
    return pieces


def instruction_ngrams(sources: Iterable[str], n: int = COPY_N) -> frozenset[tuple[str, ...]]:
    """Every run of ``n`` words of the templates' fixed text."""
    grams: set[tuple[str, ...]] = set()
    for source in sources:
        for piece in template_segments(source):
            grams.update(ngrams(words(piece), n))
    return frozenset(grams)


def split_sentences(text: str) -> list[str]:
    """Sentences of any written text (citations removed), for the checks below."""
    plain = _CITATION.sub(" ", text)
    return [s.strip() for line in plain.splitlines() for s in _ANY_END.split(line) if s.strip()]


def copied_instruction(text: str, grams: frozenset[tuple[str, ...]], n: int = COPY_N) -> str | None:
    """The first phrase of the prompt's instructions that a sentence of ``text`` copies."""
    if not grams:
        return None
    for sentence in split_sentences(text):
        for gram in ngrams(words(sentence), n):
            if gram in grams:
                return " ".join(gram)
    return None


REPEAT_N = 4
REPEAT_SHARE = 0.35
"""A section whose repeated word 4-grams exceed this share (of at least 30) repeats itself."""
NEAR_SHARE = 0.8
"""A sentence whose 4-grams were mostly said earlier in the section says it again."""
RUN_N = 8
"""... and so does one that shares a run of this many words with an earlier sentence."""


def repetition(text: str) -> str | None:
    """Why ``text`` repeats itself, or None: a sentence said again (word for word, or with
    most of its 4-word phrases said before), or most of its 4-word phrases repeated."""
    seen: set[tuple[str, ...]] = set()
    runs: set[tuple[str, ...]] = set()
    said: set[tuple[str, ...]] = set()
    for sentence in split_sentences(text):
        found = words(sentence)
        grams, long = ngrams(found, REPEAT_N), ngrams(found, RUN_N)
        if len(found) >= 4 and (tuple(found) in said or any(g in runs for g in long)
                                or len(grams) >= 3 and sum(g in seen for g in grams) >= NEAR_SHARE * len(grams)):
            return f"it says {sentence[:60]!r} again"
        said.add(tuple(found))
        seen.update(grams)
        runs.update(long)
    grams = ngrams(words(_CITATION.sub(" ", text)), REPEAT_N)
    if len(grams) >= 30:
        repeated = len(grams) - len(set(grams))
        if repeated > REPEAT_SHARE * len(grams):
            return f"{repeated / len(grams):.0%} of its {REPEAT_N}-word phrases repeat"
    return None
