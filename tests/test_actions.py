from types import SimpleNamespace

import pytest

from jupyter_warp.config import WarpConfig
from jupyter_warp.language import query_language
from jupyter_warp.machine.extend_plan import validate_extend
from jupyter_warp.machine.init_plan import validate_init_plan
from jupyter_warp.machine.reply import ActionError, parse_json_action, split_reply
from jupyter_warp.machine.search import validate_search
from jupyter_warp.machine.write import validate_section
from jupyter_warp.report import Report

actions = SimpleNamespace(
    split_reply=split_reply,
    parse_json_action=lambda text: parse_json_action(text, ("search", "init-plan", "write", "extend-plan", "nop")),
    validate_search=lambda a, c: validate_search(_check(a, ("search",)), c),
    validate_init_plan=lambda a, c: validate_init_plan(_check(a, ("init-plan",)), c),
    validate_extend=lambda a, r, c: validate_extend(_check(a, ("extend-plan", "nop")), r, c),
    validate_write=validate_section,
    query_language=query_language,
)


def _check(action, allowed):
    """The name check ``parse_json_action`` applies before a stage validates."""
    import json

    return parse_json_action(json.dumps(action), allowed)

C = WarpConfig()


def test_split_drops_think_blocks_and_tags():
    text = "<think>secret plan</think><thought>I need <b>data</b></thought>\n<action>{\"name\": \"search\"}</action>"
    reply = actions.split_reply(text)
    assert reply.thought == "I need <b>data</b>"
    assert reply.action_text == '{"name": "search"}' and reply.closed
    cut = actions.split_reply("<thought>x</thought><action>some text that was cut")
    assert not cut.closed and cut.action_text == "some text that was cut"
    with pytest.raises(ActionError, match="no <action>"):
        actions.split_reply("just prose, no tags")
    unterminated = actions.split_reply("<think>rambling <thought>t</thought><action>{}</action>")
    assert unterminated.thought == "t"


def test_json_repair_and_name_normalised():
    data = actions.parse_json_action('{"name": "init_plan", "title": "T", "sections": [{"title": "a", "plan": "b"},]')
    assert data["name"] == "init-plan" and data["sections"][0]["title"] == "a"
    with pytest.raises(ActionError):
        actions.parse_json_action("not json at all")
    with pytest.raises(ActionError, match="no name"):
        actions.parse_json_action('{"keywords": ["x"]}')


def test_search_validation():
    assert actions.validate_search({"name": "search", "keywords": ["a", "a", " b "]}, C)["keywords"] == ["a", "b"]
    with pytest.raises(ActionError, match="not allowed"):
        actions.validate_search({"name": "nop"}, C)
    with pytest.raises(ActionError, match="1 to 5"):
        actions.validate_search({"name": "search", "keywords": ["", " "]}, C)
    with pytest.raises(ActionError, match="at most 5"):
        actions.validate_search({"name": "search", "keywords": list("abcdef")}, C)


def sections(n):
    return [{"title": f"t{i}", "plan": f"p{i}"} for i in range(n)]


def test_init_plan_bounds():
    ok = actions.validate_init_plan({"name": "init-plan", "title": "T", "sections": sections(3)}, C)
    assert len(ok["sections"]) == 3
    for n in (2, 13):
        with pytest.raises(ActionError, match="3 to 12"):
            actions.validate_init_plan({"name": "init-plan", "title": "T", "sections": sections(n)}, C)
    with pytest.raises(ActionError, match="title"):
        actions.validate_init_plan({"name": "init-plan", "title": "", "sections": sections(3)}, C)
    with pytest.raises(ActionError, match=r"3 to 12 distinct entries, got 2 \(1 repeated a title\)"):
        actions.validate_init_plan({"name": "init-plan", "title": "T", "sections": sections(2) + sections(1)}, C)
    deduped = actions.validate_init_plan({"name": "init-plan", "title": "T", "sections": sections(3) + sections(2)}, C)
    assert [s["title"] for s in deduped["sections"]] == ["t0", "t1", "t2"]


def test_extend_validation():
    r = Report("q")
    r.init_plan("T", sections(3))
    r.extend("section-1", sections(2))
    r.extend("section-1.1", sections(2))
    r.lock("section-3")
    ext = lambda pos, n=2: {"name": "extend-plan", "position": pos, "subsections": sections(n)}  # noqa: E731
    assert actions.validate_extend(ext("Section-2"), r, C)["position"] == "section-2"
    assert actions.validate_extend({"name": "nop"}, r, C) == {"name": "nop"}
    for action, msg in [(ext("section-9"), "does not exist"), (ext("section-1"), "already has"),
                        (ext("section-1.1.1"), "deepest"), (ext("section-3"), "locked"),
                        (ext("section-2", 1), "2 to 7"), (ext("section-2", 8), "2 to 7"),
                        (ext("part two"), "bad position"),
                        ({"name": "search", "keywords": ["x"]}, "not allowed")]:
        with pytest.raises(ActionError, match=msg):
            actions.validate_extend(action, r, C)


ZH = ("这是一个用中文写的段落，它足够长，可以通过长度检查，并且引用了证据 [3]。"
      "第二句话说的是另一件事情，也引用了同一段证据 [3]。")


def test_write_validation():
    body = "This section explains the result in enough words to pass the length check [3] and more [4][99]."
    checked = actions.validate_write(body, [3, 4], "en", C)
    assert checked.cited == [3, 4] and checked.removed == 1 and "[99]" not in checked.text
    for text, msg in [("# Heading\n" + body, "headings"), ("Too short [3].", "too short"),
                      ("A long enough text that cites nothing at all, only unknown keys [8].", "cite 1 to 12"),
                      (ZH, "English")]:
        with pytest.raises(ActionError, match=msg):
            actions.validate_write(text, [3, 4], "en", C)
    zh = ZH
    assert actions.validate_write(zh, [3], "zh", C).cited == [3]
    with pytest.raises(ActionError, match="Chinese"):
        actions.validate_write(body, [3, 4], "zh", C)
    stray = actions.validate_write("<action>" + body + "</thought>", [3, 4], "en", C)
    assert "<" not in stray.text


def test_query_language():
    assert actions.query_language("中国的新能源汽车产业如何发展？") == "zh"
    assert actions.query_language("How do GPUs schedule warps?") == "en"


def test_control_characters_never_reach_a_section():
    """A model's stray bytes (a NUL, a terminal escape) are dropped from a section, and the
    bounded grammar never lets them out in the first place."""
    import xgrammar  # noqa: F401  (the grammar check below needs it)
    from xgrammar.testing import _is_grammar_accept_string as accepts

    from jupyter_warp.machine import Phase
    from jupyter_warp.machine.stepper import STAGES

    text = "Exceptions are raised with the \x1b[31mraise\x00 statement and caught by handlers [3]."
    assert actions.validate_write(text, [3], "en", C).text == (
        "Exceptions are raised with the [31mraise statement and caught by handlers [3].")
    g = STAGES[Phase.WRITE].grammar(C, keys=[3])
    ok = "Exceptions are raised with the raise statement and caught by handlers [3]. "
    assert accepts(g, f"<thought>why</thought>\n<action>{ok}</action>")
    escaped = ok.replace("raise ", "rai\x1bse ")
    assert not accepts(g, f"<thought>why</thought>\n<action>{escaped}</action>")
    assert not accepts(g, f"<thought>w\x00hy</thought>\n<action>{ok}</action>")
