"""Property-based tests (hypothesis) on arbitrary text: the reply parser raises nothing but
``ActionError`` and never lets a tag through; citation checking keeps only allowed keys and
leaves the words around citations alone; renumbering is a bijection onto 1..n in order of
first use that changes nothing outside the citations."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from jupyter_warp.citations import check_citations, renumberer
from jupyter_warp.config import WarpConfig
from jupyter_warp.machine.reply import TAG, ActionError, clean_text, parse_json_action, split_reply
from jupyter_warp.machine.search import validate_search
from jupyter_warp.machine.write import validate_section

FAST = settings(max_examples=200, deadline=None)

# Pieces a model (or an attacker writing the documents it quotes) could put in a reply:
# every tag the parser knows, tag fragments that join into tags once something is cut out,
# JSON syntax, citation syntax, and free text of any characters.
FRAGMENTS = [
    "<think>", "</think>", "<thought>", "</thought>", "<action>", "</action>", "<answer>", "<tool_call>",
    "<im_start>", "</im_end>", "<THOUGHT>", "<action x='1'>", "<", ">", "/", "<thou", "ght>", "<act", "ion>",
    "think", "thought", "action", '{"name": "search", "keywords": ["a", "b"]}', '{"name": "nop"}',
    '{"name": "init-plan"', "{", "}", "[", "]", '"', ":", ",", "name", "```json", "```", "\\cite{", "textid",
    "[3]", "[1, 2]", "\n", " ", "section",
]
reply_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=40).map("".join)


def has_tag(text: str) -> bool:
    return TAG.search(text) is not None


@FAST
@given(reply_text)
@example("<thought>a <thou<thought>ght> b</thought><action>x</action>")
@example("<action><<action>action>" + "x" * 60 + " [1].</action>")
@example("[" * 5000)
def test_reply_parser_raises_only_action_error_and_lets_no_tag_through(text: str) -> None:
    config = WarpConfig()
    try:
        reply = split_reply(text)
    except ActionError:
        reply = None
    if reply is not None:
        assert not has_tag(reply.thought)
        for allowed in (("search",), ("init-plan",), ("extend-plan", "nop")):
            try:
                action = parse_json_action(reply.action_text, allowed)
            except ActionError:
                continue
            assert action["name"] in allowed
        try:
            search = validate_search(parse_json_action(reply.action_text, ("search",)), config)
        except ActionError:
            pass
        else:
            assert not any(has_tag(k) for k in search["keywords"])
        try:
            section = validate_section(reply.action_text, [1, 2, 3], "en", config)
        except ActionError:
            pass
        else:
            assert not has_tag(section.text)
    try:
        assert not has_tag(clean_text(text, "a title"))
    except ActionError:
        pass
    try:
        parse_json_action(text, ("search",))
    except ActionError:
        pass


# Citations. Words never look like citations: no brackets, no backslash, no spaces inside,
# no backticks (citations inside code spans are left alone on purpose).
word = st.text(alphabet=st.characters(blacklist_characters="[]\\{}.,;:` \t\n\r【】",
                                      blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=8)
key = st.integers(min_value=1, max_value=30)
cite_forms = st.sampled_from(["[{k}]", "[textid{k}]", "\\cite{{textid{k}}}", "[{k}, {k2}]",
                              "\\cite{{textid{k}, textid{k2}}}"])
piece = st.one_of(word.map(lambda w: ("word", w)),
                  st.tuples(cite_forms, key, key).map(lambda t: ("cite", t[0].format(k=t[1], k2=t[2]))))


@FAST
@given(st.lists(piece, max_size=30), st.sets(key, max_size=10))
def test_check_citations_keeps_only_allowed_keys_and_the_words(pieces: list, allowed: set[int]) -> None:
    """Allowed keys become ``[k]`` in order of first use; explicit citations (``\\cite``,
    ``textid``) of keys not shown are removed and counted; a bare bracket that names no key
    shown (``[2019]``) stays as written; the words never change."""
    text = " ".join(p for _, p in pieces)
    checked = check_citations(text, allowed)
    found = [int(k) for k in re.findall(r"\[(\d+)\]", checked.text)]
    assert checked.cited == list(dict.fromkeys(k for k in found if k in allowed))
    assert "\\cite" not in checked.text and "textid" not in checked.text
    explicit_unknown = sum(k not in allowed for kind, c in pieces if kind == "cite" and "textid" in c
                           for k in map(int, re.findall(r"\d+", c)))
    named_unknown = sum(k not in allowed for kind, c in pieces if kind == "cite"
                        for k in map(int, re.findall(r"\d+", c)))
    # Explicit citations of keys not shown are always removed; a bare one is too when it sits in
    # a run of citations that cites something (then it is a citation, not a year).
    assert explicit_unknown <= checked.removed <= named_unknown
    words = [w for kind, w in pieces if kind == "word"]
    assert re.sub(r"\[\d+(?:, \d+)?\]", " ", checked.text).split() == words
    assert check_citations(checked.text, allowed).text == checked.text  # already normal: a fixed point


@FAST
@given(st.lists(st.one_of(word, key.map(lambda k: f"[{k}]")), max_size=40))
def test_renumbering_is_a_bijection_in_order_of_first_use(parts: list[str]) -> None:
    text = " ".join(parts)
    order = list(dict.fromkeys(int(k) for k in re.findall(r"\[(\d+)\]", text)))  # the report's: first use
    out = renumberer(order)(text)
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", out)]
    assert list(dict.fromkeys(numbers)) == list(range(1, len(order) + 1))
    mapping = dict(zip(re.findall(r"\[(\d+)\]", text), numbers, strict=True))
    assert len(set(mapping.values())) == len(mapping)  # one key, one number, and back
    assert re.split(r"\[\d+\]", out) == re.split(r"\[\d+\]", text)


@FAST
@given(st.lists(st.one_of(word, key.map(lambda k: f"[{k}]")), max_size=40), st.sets(key, max_size=10))
def test_renumbering_leaves_brackets_of_other_keys_as_written(parts: list[str], kept: set[int]) -> None:
    """Only ranked keys are renumbered; a bracket naming anything else (a year, an index)
    is text and stays as written."""
    text = " ".join(parts)
    order = sorted(kept)
    rank = {k: n for n, k in enumerate(order, 1)}
    out = renumberer(order)(text)
    expected = " ".join(f"[{rank[int(p[1:-1])]}]" if re.fullmatch(r"\[\d+\]", p) and int(p[1:-1]) in rank else p
                        for p in parts)
    assert out == expected
