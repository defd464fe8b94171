"""Citations: each passage keyed once per run, every citation syntax a model writes read
against the passages shown, and the final renumbering ``[1]``, ``[2]``... with References.

A key names a passage by its file and text, as the reference names it by its text, so a
re-index that renumbers a file's chunks never points an old key at another passage.

Syntaxes read: ``\\cite{textid7, textid2}``, ``[textid7]``, ``【7】``, ``[7]``, ``[7, 2]``,
``[1-3]`` and runs of them (``[3][7]``). An explicit one (``\\cite``, ``textid``, ``【】``)
is always a citation; a bare bracket of numbers is one when it names a key shown to the
writer, or stands in a run with one; otherwise (``[2019]``, ``x[0]``) it stays as written.
Code spans and fenced code are never read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .records import Passage, printable

_ITEM = (r"(?:\\cite[tp]?\{[^}]*\}|【\s*(?:textid|id)?\d+[^】\n]{0,30}】"
         r"|\[\s*(?:textid|id)?\d+(?:\s*(?:[,;]|[-–])\s*(?:textid|id)?\d+)*\s*\])")
_RUN = re.compile(rf"([ \t]*)({_ITEM}(?:[ \t]*{_ITEM})*)", re.IGNORECASE)
_PART = re.compile(_ITEM, re.IGNORECASE)
_NUMBER = re.compile(r"(?:textid|id)?\s*(\d+)(?:\s*[-–]\s*(?:textid|id)?\s*(\d+))?", re.IGNORECASE)
_CODE = re.compile(r"(^|\n)(```|~~~)[^\n]*\n.*?(\n\2[^\n]*(?=\n|$)|$)|`[^`\n]+`", re.DOTALL)
_CLOSES = " \t\n.,;:!?)。，；：！？）"
"""What may follow a citation removed whole, so that the space before it goes too."""
MAX_RANGE = 50
"""A range ``[a-b]`` longer than this is not read as citations."""


def passage_identity(p: Passage) -> str:
    """What a key names: the passage's file and its text (whitespace normalised)."""
    return p.path + "\n" + " ".join(p.text.split())


@dataclass
class CitationRegistry:
    """Run-wide passage keys: the same passage always gets the same key in prompts."""

    passages: dict[int, Passage] = field(default_factory=dict)
    _by_identity: dict[str, int] = field(default_factory=dict)

    def key_for(self, passage: Passage) -> int:
        """The passage's key, a new one the first time it is seen."""
        identity = passage_identity(passage)
        key = self._by_identity.get(identity)
        if key is None:
            key = len(self.passages) + 1
            self.passages[key] = passage
            self._by_identity[identity] = key
        return key

    def keys_for(self, passages: Iterable[Passage]) -> list[int]:
        """Keys of ``passages``, in order."""
        return [self.key_for(p) for p in passages]

    def to_dict(self) -> dict[str, Any]:
        """Key to passage, JSON-ready."""
        return {str(k): p.to_dict() for k, p in self.passages.items()}

    @classmethod
    def from_list(cls, passages: Iterable[Passage]) -> CitationRegistry:
        """Keys 1, 2, ... in order, as ``passages.jsonl`` stores them."""
        reg = cls()
        for p in passages:
            key = len(reg.passages) + 1
            reg.passages[key] = p
            reg._by_identity.setdefault(passage_identity(p), key)
        return reg

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CitationRegistry:
        """Inverse of ``to_dict``."""
        reg = cls()
        for key, p in sorted(data.items(), key=lambda kv: int(kv[0])):
            passage = Passage.from_dict(p)
            reg.passages[int(key)] = passage
            reg._by_identity.setdefault(passage_identity(passage), int(key))
        return reg


@dataclass
class CheckedText:
    """A section body with its citations read."""

    text: str
    """The text with every citation in the ``[k]`` form, unknown keys removed."""
    cited: list[int]
    """Valid keys in order of first use."""
    removed: int
    """Citations naming a key that was not shown for this write."""


def _keys(item: str) -> tuple[list[int], bool]:
    """The keys one citation item names, and whether its syntax is explicitly a citation."""
    explicit = item.startswith(("\\", "【")) or "id" in item.lower()
    inner = item[item.index("{") + 1:-1] if item.startswith("\\") else item[1:-1]
    keys: list[int] = []
    for part in re.split(r"[,;]", inner):
        match = _NUMBER.search(part)
        if not match:
            continue
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        keys += list(range(low, high + 1)) if 0 <= high - low <= MAX_RANGE else [low, high]
    return keys, explicit


def _prose_spans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each stretch of ``text`` outside code spans and fenced code blocks."""
    last = 0
    for match in _CODE.finditer(text):
        yield last, match.start()
        last = match.end()
    yield last, len(text)


def _outside_code(text: str, change: Callable[[str], str]) -> str:
    """``change`` applied to the text outside code spans and fenced code blocks."""
    out, last = [], 0
    for start, end in _prose_spans(text):
        out += [text[last:start], change(text[start:end])]
        last = end
    return "".join(out)


def _citing(match: re.Match[str], allowed: set[int] | None) -> list[int] | None:
    """The keys a run of ``_RUN`` names when it is a citation: a part of it is explicitly
    one or, bare numbers only, it names a key in ``allowed`` (``None``: every bracket of
    numbers cites); None when it is not a citation."""
    items = [_keys(m.group(0)) for m in _PART.finditer(match.group(2))]
    keys = [k for item_keys, _ in items for k in item_keys]
    if allowed is None or any(explicit for _, explicit in items) or allowed.intersection(keys):
        return keys
    return None


@dataclass(frozen=True)
class CitationRun:
    """One run of citations as the engine reads it: where it stands and the keys it names."""

    start: int
    """Where the run starts, the space before it included."""
    end: int
    keys: list[int]
    """Every key it names, in order (``[1-3]`` names 1, 2 and 3), shown or not."""


def citation_runs(text: str, allowed: Iterable[int] | None = None) -> list[CitationRun]:
    """The citation runs of ``text`` outside code, read as ``check_citations`` reads them: a
    run is a citation when a part of it is explicitly one or, bare numbers only, when it
    names a key in ``allowed`` (``None``: every bracket of numbers cites)."""
    allowed_set = None if allowed is None else set(allowed)
    runs: list[CitationRun] = []
    for start, end in _prose_spans(text):
        for match in _RUN.finditer(text[start:end]):
            keys = _citing(match, allowed_set)
            if keys is not None:
                runs.append(CitationRun(start + match.start(), start + match.end(), keys))
    return runs


def check_citations(text: str, allowed: Iterable[int]) -> CheckedText:
    """Normalise every citation to ``[7][2]``, keeping only keys in ``allowed`` (the keys
    shown to the writer); a bracket that cites nothing shown stays as written."""
    allowed_set = set(allowed)
    cited: dict[int, None] = {}
    removed = 0

    def run(match: re.Match[str]) -> str:
        nonlocal removed
        keys = _citing(match, allowed_set)
        if keys is None:
            return match.group(0)
        out = []
        for key in keys:
            if key in allowed_set:
                cited.setdefault(key, None)
                out.append(f"[{key}]")
            else:
                removed += 1
        kept = "".join(dict.fromkeys(out))
        after = match.string[match.end():match.end() + 1]
        return "" if not kept and (not after or after in _CLOSES) else match.group(1) + kept

    body = _outside_code(text, lambda part: _RUN.sub(run, part))
    return CheckedText(text=body.strip(), cited=list(cited), removed=removed)


_RUN_KEY = re.compile(r"(?:\[\d+\])+")


class renumberer:
    """Rewrites a section's ``[key]`` citations to ``[n]``, n being the key's rank in
    ``order``; given the section's cited keys, any other bracket stays as written."""

    def __init__(self, order: list[int]) -> None:
        self.rank = {key: n for n, key in enumerate(order, 1)}

    def __call__(self, text: str, cited: Iterable[int] | None = None) -> str:
        """``text`` renumbered; ``cited``: the keys the section cites (default: any ranked key)."""
        keys = set(self.rank) if cited is None else set(cited)

        def one(match: re.Match[str]) -> str:
            found = [int(k) for k in re.findall(r"\d+", match.group(0))]
            if not keys.intersection(found):
                return match.group(0)
            return "".join(f"[{self.rank[k]}]" for k in found if k in self.rank and k in keys)

        return _outside_code(text, lambda part: _RUN_KEY.sub(one, part))


def as_cite_commands(text: str, cited: Iterable[int]) -> str:
    """``[3][7]`` runs of cited keys as ``\\cite{textid3, textid7}``, the reference's form."""
    keys = set(cited)

    def one(match: re.Match[str]) -> str:
        found = [int(k) for k in re.findall(r"\d+", match.group(0))]
        if not found or not keys.issuperset(found):
            return match.group(0)
        return "\\cite{" + ", ".join(f"textid{k}" for k in found) + "}"

    return _outside_code(text, lambda part: _RUN_KEY.sub(one, part))


def reference_lines(order: list[int], registry: CitationRegistry) -> list[str]:
    """One line per cited passage, numbered as in the renumbered report."""
    return [reference_line(n, registry.passages[key]) for n, key in enumerate(order, 1)]


# The References formatting: a link to the file, its page and heading.
LINKED_HEADINGS = (".md", ".markdown", ".ipynb")
"""Files JupyterLab opens at a heading given as ``#Heading-text``."""


def reference_line(n: int, passage: Passage, base: str | os.PathLike[str] | None = None) -> str:
    """``[n] Title — [docs/notes.md](docs/notes.md#Heading-text), p. 3, § Intro > Heading text``.

    The link is relative to ``base`` (default: the working folder, which in a notebook is
    the notebook's folder, so JupyterLab opens the file), percent-encoded, and points at the
    page of a PDF or the heading of a Markdown file or notebook. A file with no relative
    path from there (another drive) is named as plain text."""
    p = passage
    label = f"{printable(p.title)} — " if p.title else ""
    where = [_file_link(p, base)]
    if p.page is not None:
        where.append(f"p. {p.page}")
    if p.heading:
        where.append(f"§ {printable(p.heading)}")
    return f"[{n}] {label}{', '.join(where)}"


def _file_link(p: Passage, base: str | os.PathLike[str] | None) -> str:
    try:
        relative = os.path.relpath(p.path, base if base is not None else os.curdir)
    except ValueError:
        return _link_text(printable(p.path))
    outside = relative == os.pardir or relative.startswith(os.pardir + os.sep)
    shown = _link_text(printable(p.path if outside else relative))
    href = quote(relative.replace(os.sep, "/"), errors="surrogateescape")
    suffix = os.path.splitext(p.path)[1].lower()
    if suffix == ".pdf" and p.page is not None:
        href += f"#page={p.page}"
    elif suffix in LINKED_HEADINGS and p.heading:
        href += "#" + _heading_anchor(p.heading.split(" > ")[-1])
    return f"[{shown}]({href})"


def _heading_anchor(heading: str) -> str:
    """JupyterLab's id for a heading (its text, spaces as ``-``), percent-encoded only where a
    browser would encode it anyway or a Markdown link would end (JupyterLab matches the
    fragment as the browser gives it)."""
    anchor = heading.strip().replace(" ", "-")
    safe = "!$'*+,;=:@/?-._~" + ("()" if anchor.count("(") == anchor.count(")") else "")
    return quote(anchor, safe=safe, errors="surrogateescape")


_PUNCT = re.compile(r"\\(?=[!-/:-@\[-`{-~])")


def _link_text(text: str) -> str:
    """``text`` as the text of a Markdown link that stays one link: backslashes that would
    escape the next character, backticks and unbalanced brackets are escaped."""
    text = _PUNCT.sub(r"\\\\", text).replace("`", "\\`")
    out: list[str] = []
    opened: list[int] = []
    for char in text:
        if char == "[":
            opened.append(len(out))
        elif char == "]":
            if not opened:
                out.append("\\]")
                continue
            opened.pop()
        out.append(char)
    for i in opened:
        out[i] = "\\["
    return "".join(out)
