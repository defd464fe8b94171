"""Citations: each passage keyed once per run, both citation syntaxes checked against the
passages shown, and the final renumbering ``[1]``, ``[2]``... with a References list."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .records import Passage, printable

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
