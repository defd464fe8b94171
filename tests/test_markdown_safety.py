"""The ``text/markdown`` fallbacks carry no live markup, whatever the text (issue 14).

A property test (hypothesis) feeds arbitrary text built from Markdown's active characters,
HTML and script links to ``escape_markdown`` and renders the result with three permissive
renderers: markdown-it-py with raw HTML on (CommonMark, GFM tables), mistune with escaping
off (what nbconvert uses) and marked (what JupyterLab renders Markdown outputs with; run in
Node when ``labextension/node_modules`` is there). Every tag in the HTML must be one Markdown
itself makes, with no event handler and no link or image to a script-capable scheme.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kernel_magics.safe_markdown import escape_everything, escape_markdown, markdown_html, unsafe_markdown

ROOT = Path(__file__).resolve().parent.parent
MARKED = ROOT / "labextension" / "node_modules" / "marked" / "lib" / "marked.esm.js"

MARKDOWN_TAGS = {"p", "em", "strong", "code", "pre", "a", "img", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
                 "li", "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "del", "s", "input"}
ATTRIBUTES = {"href", "src", "alt", "title", "class", "start", "align", "style", "id", "type", "checked", "disabled"}
BAD_URL = re.compile(r"^(javascript|vbscript|data|file):", re.IGNORECASE)

PIECES = ["<", ">", "&", "[", "]", "(", ")", "`", "``", "```", "~~~", "*", "_", "\\", "!", ":", "|", "#", "-", "=",
          "\n", "\n\n", " ", "    ", "\t", '"', "'", "/", ";", "a", "b", "1. ", "> ", "- ", "|---|",
          "javascript:", "JaVaScRiPt:", "vbscript:", "data:", "file:", "<img src=x onerror=alert(1)>",
          "<script>alert(1)</script>", "<a href=javascript:alert(1)>", "<!--", "-->", "<div>", "</div>", "[x]: ",
          "](", "[l](", "&#106;", "&lt;", "&#x3C;", "http://a.b", "<http://a>", "<javascript:alert(1)>", "\r"]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


class Tags(HTMLParser):
    """Every tag and attribute of an HTML fragment that Markdown would not make by itself."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in MARKDOWN_TAGS:
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            if name not in ATTRIBUTES:
                self.bad.append(f"{tag} {name}=")
            if name in ("href", "src") and value and BAD_URL.match(re.sub(r"[\x00-\x20\x7f]+", "", value)):
                self.bad.append(f"{tag} {name}={value}")

    def handle_comment(self, data: str) -> None:
        self.bad.append("<!--")

    def handle_decl(self, decl: str) -> None:
        self.bad.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.bad.append(f"<?{data}>")


def live_markup(html: str) -> list[str]:
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser.bad


def markdown_it(text: str) -> str:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True
    return md.render(text)


def mistune_html(text: str) -> str:
    import mistune

    return mistune.create_markdown(escape=False, plugins=["table", "strikethrough", "url"])(text)


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    """``marked.parse`` in one Node process, a line of JSON in and out per text."""
    if shutil.which("node") is None or not MARKED.is_file():
        pytest.skip("marked is not installed (npm ci in labextension/)")
    script = tmp_path_factory.mktemp("marked") / "serve.mjs"
    script.write_text(
        "import { createInterface } from 'node:readline';\n"
        "const { marked } = await import(process.argv[2]);\n"
        "for await (const line of createInterface({ input: process.stdin })) {\n"
        "  process.stdout.write(JSON.stringify(marked.parse(JSON.parse(line), { gfm: true })) + '\\n');\n"
        "}\n")
    proc = subprocess.Popen(["node", str(script), MARKED.as_uri()], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)

    def render(text: str) -> str:
        proc.stdin.write(json.dumps(text) + "\n")
        return json.loads(proc.stdout.readline())

    yield render
    proc.stdin.close()
    proc.wait(timeout=10)


def test_the_checker_sees_live_markup_in_raw_text(marked):
    raw = "<img src=x onerror=alert(1)> [a](javascript:alert(1)) [b]\n\n[b]: javascript:alert(2)"
    for render in (markdown_it, mistune_html, marked):
        bad = live_markup(render(raw))
        assert any("onerror" in b for b in bad), (render, bad)
        if render is not mistune_html:  # mistune drops script links itself; the others keep them
            assert any("javascript:alert(1)" in b for b in bad) and any("javascript:alert(2)" in b for b in bad)
    assert unsafe_markdown(raw)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts)
@example("a ` b\n\n<img src=x onerror=alert(1)> `")  # a code span does not cross a blank line
@example("[x]: javascript:alert(1)\n\n[x]")  # a reference-style link
@example("[x]:\n  JaVaScRiPt\\:alert(1)\n\n[y][x]")
@example("\\`<img src=x onerror=alert(1)>`")  # an escaped backtick opens no code span
@example("| a | b |\n|---|---|\n| `x|<img src=x onerror=alert(1)>|` | c |")  # a pipe splits a table cell first
@example("# a `x\nb <img src=x onerror=alert(1)> `")  # a heading ends before the next line
@example("```a`b\n<img src=x onerror=alert(1)>\n```")  # not a fence: its info string has a backtick
def test_escaped_markdown_renders_no_live_markup(marked, text):
    escaped = escape_markdown(text)
    for render in (markdown_it, mistune_html, marked):
        assert live_markup(render(escaped)) == [], (render.__name__, text, escaped)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_the_fallback_leaves_nothing_to_render(text):
    assert unsafe_markdown(escape_everything(text)) == []
    assert live_markup(markdown_it(escape_everything(text))) == []


def test_text_and_code_render_as_written():
    text = ("a < b & c, <b>bold</b> &amp;\n\n`x < y` and ``a ` b``\n\n"
            "```python\nif a < b and c && d:\n    pass\n```\n\n[ok](https://a.org/x)")
    escaped = escape_markdown(text)
    assert escaped.startswith("a < b & c, &lt;b>bold&lt;/b> &amp;amp;")
    assert "`x < y`" in escaped and "if a < b and c && d:" in escaped and "``a ` b``" in escaped
    html = markdown_it(escaped)
    assert "a &lt; b &amp; c, &lt;b&gt;bold&lt;/b&gt; &amp;amp;" in html
    assert "<code>x &lt; y</code>" in html and 'href="https://a.org/x"' in html
    # What could open a tag is escaped in code too: it shows as the entity there.
    assert escape_markdown("`List<str>`") == "`List&lt;str>`"


def test_html_made_here_has_no_raw_html_images_or_script_links():
    html = markdown_html("# T\n\n<script>x</script> [l](javascript:alert(1)) ![i](http://tracker/p.png) **b**")
    assert "<script" not in html and "href" not in html and "<img" not in html
    assert "<strong>b</strong>" in html and "<h1>T</h1>" in html
