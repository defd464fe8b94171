"""Model and document text as Markdown that can carry no live markup.

Two outputs reach a browser: HTML made here (markdown-it-py with raw HTML off, then nh3),
and the ``text/markdown`` fallbacks, which the front end renders itself, raw HTML included
when the output is trusted (JupyterLab renders its own outputs as trusted). Renderers
disagree on where code spans, fences, tables and bare URLs begin and end (each was seen to
turn text one of them took for code into a live tag), so the escaping does not depend on
finding code: every ``<`` that could open a tag, comment or autolink and every ``&`` that
could open a character reference is escaped, wherever it is, and a link destination or
reference definition with a script-capable scheme is renamed ``unsafe-...``. Text and
``a < b`` render as written; code that contains ``x<y`` shows the entity (safety before
fidelity). The result is parsed once more; should anything still become a tag or a script
link, every ``\\``, ``[``, ``&`` and ``<`` is escaped instead.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

SCHEMES = ("javascript", "vbscript", "data", "file")
"""URL schemes a report never links to: they run script or read local files."""

_BAD_URL = re.compile(rf"^({'|'.join(SCHEMES)}):", re.IGNORECASE)
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")
# "](" of an inline link or "]:" of a reference definition, then a bad scheme (with an
# escaped colon, which Markdown unescapes).
_LINK = re.compile(rf"(\]\(\s*|\]:\s*)({'|'.join(SCHEMES)})(\\?:)", re.IGNORECASE)
_TAG = re.compile(r"<(?=[A-Za-z/!?])")
"""A ``<`` that starts a tag, a comment, a declaration or an autolink, in HTML and Markdown."""
_ENTITY = re.compile(r"&(?=[A-Za-z0-9#])")
"""An ``&`` that may start a character reference (which could spell a scheme in a link)."""


@cache
def _parser(html: bool) -> Any:
    """CommonMark with GFM tables; ``html=True`` and every link kept, to see what a permissive
    renderer (JupyterLab's, for a trusted output) would make of a text."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": html}).enable(["table", "strikethrough"])
    if html:
        md.validateLink = lambda url: True
    return md


def markdown_html(text: str) -> str:
    """Markdown to HTML with raw HTML disabled, then sanitized with nh3 (no images: a report
    loads nothing from elsewhere)."""
    import nh3

    tags = set(nh3.ALLOWED_TAGS) - {"img"}
    return str(nh3.clean(_parser(False).render(text), tags=tags))


def escape_markdown(text: str) -> str:
    """Markdown that renders the same but can hold no raw HTML and no script link."""
    escaped = _escape_live(text)
    if unsafe_markdown(escaped):
        return escape_everything(text)
    return escaped


def escape_everything(text: str) -> str:
    """No tag, entity, link or image can form: every ``\\``, ``[``, ``&`` and ``<`` escaped."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("&", "&amp;").replace("<", "&lt;")


def unsafe_markdown(text: str) -> list[str]:
    """What in ``text`` a permissive CommonMark renderer would turn into raw HTML or a link
    to a script-capable scheme (empty when nothing)."""
    found: list[str] = []

    def visit(tokens: list[Any]) -> None:
        for token in tokens:
            if token.type in ("html_block", "html_inline"):
                found.append(f"raw HTML {token.content.strip()[:40]!r}")
            for attr in ("href", "src"):
                url = token.attrGet(attr) if token.attrs else None
                if url is not None and _BAD_URL.match(_URL_NOISE.sub("", str(url))):
                    found.append(f"{attr} {str(url)[:40]!r}")
            if token.children:
                visit(token.children)

    visit(_parser(True).parse(text))
    return found


def _escape_live(text: str) -> str:
    text = _ENTITY.sub("&amp;", text)
    text = _TAG.sub("&lt;", text)
    return _LINK.sub(lambda m: f"{m.group(1)}unsafe-{m.group(2)}{m.group(3)}", text)
