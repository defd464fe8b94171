import pytest

from jupyter_warp.config import WarpConfig
from jupyter_warp.errors import ConfigError
from jupyter_warp.prompts.variables import condensed
from jupyter_warp.records import Passage
from jupyter_warp.render import outline, report_markdown
from jupyter_warp.report import Report, parse_position
from jupyter_warp.state import RunState


def make() -> Report:
    r = Report(query="q")
    r.init_plan("Title", [{"title": "A", "plan": "pa"}, {"title": "B", "plan": "pb"}, {"title": "C", "plan": "pc"}])
    return r


def test_positions_and_preorder_cursor():
    r = make()
    assert r.positions() == ["section-1", "section-2", "section-3"]
    r.write("section-1", "text a [1]", [1])
    r.extend("section-1", [{"title": "A1", "plan": "x"}, {"title": "A2", "plan": "y"}])
    assert r.positions() == ["section-1", "section-1.1", "section-1.2", "section-2", "section-3"]
    assert r.next_unwritten()[0] == "section-1.1"
    assert r.find("section-1.2").title == "A2"
    assert parse_position("Section-2.1") == [2, 1]
    with pytest.raises(ConfigError, match="bad position"):
        parse_position("chapter 2")
    with pytest.raises(ConfigError, match="no node at section-9"):
        r.find("section-9")


def test_extendable_respects_depth_lock_and_children():
    r = make()
    for pos in ("section-1", "section-2", "section-3"):
        r.write(pos, "t", [1])
    r.lock("section-3")
    r.extend("section-1", [{"title": "A1", "plan": ""}, {"title": "A2", "plan": ""}])
    r.write("section-1.1", "t", [1])
    assert r.extendable(3) == ["section-1.1", "section-2"]
    assert r.extendable(1) == []


def test_user_edits():
    r = make()
    r.rename("section-2", "Bee")
    r.replan("section-3", "new plan")
    r.add("Zed", "z plan", index=0)
    assert [n.title for n in r.sections] == ["Zed", "A", "Bee", "C"]
    r.write("section-2", "written", [1])
    r.replan("section-2", "again", rewrite=True)
    assert r.find("section-2").status == "planned" and r.find("section-2").text == ""
    r.delete("section-1")
    assert r.positions() == ["section-1", "section-2", "section-3"]
    r.lock("section-1")
    assert r.next_unwritten()[1].title == "Bee"
    r.extend("section-2", [{"title": "x", "plan": ""}, {"title": "y", "plan": ""}])
    r.extend("section-2.1", [{"title": "x", "plan": ""}, {"title": "y", "plan": ""}])
    with pytest.raises(ConfigError, match="deepest level"):
        r.add("too deep", parent="section-2.1.1")


def test_condensed_shortens_away_from_cursor_level_by_level():
    r = make()
    long = "word " * 100
    r.write("section-1", long, [1])
    r.write("section-2", long, [1])
    cursor = r.find("section-3").id
    text = condensed(r, cursor, level=1)
    assert "## Section-1 [A]" in text and "[PLAN] pc" in text and "<- current" in text
    # section-1 and 2 share the cursor's parent (the root), so they are near: shown whole.
    assert text.count(" ...") == 0
    r.extend("section-2", [{"title": "B1", "plan": "b1"}, {"title": "B2", "plan": "b2"}])
    cursor = r.find("section-2.1").id
    lines = condensed(r, cursor, level=1).splitlines()
    a_line = lines[lines.index("## Section-1 [A]") + 1]
    b_line = lines[lines.index("## Section-2 [B]") + 1]
    assert a_line.endswith(" ...") and len(a_line) < 140
    assert not b_line.endswith(" ...")
    assert "### Section-2.1 [B1] <- current" in lines
    assert "[OK] (written)" in condensed(r, cursor, level=2)
    assert condensed(r, cursor, level=4).count("[OK] (written)") == 2
    sizes = [len(condensed(r, cursor, level)) for level in range(5)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


def test_roundtrip_and_markdown_numbering():
    r = make()
    r.write("section-1", "alpha [3]", [3])
    r.extend("section-1", [{"title": "A1", "plan": ""}, {"title": "A2", "plan": ""}])
    r.fail("section-2", "no passages found")
    again = Report.from_dict(r.to_dict())
    assert again.to_dict() == r.to_dict()
    state = RunState.new("run", "q", WarpConfig())
    state.report = r
    for n in (1, 2, 3):
        state.registry.key_for(Passage(doc_id=f"d{n}", text="t", path=f"d{n}.md"))
    md = report_markdown(state)
    assert md.startswith("# Title\n")
    assert "## 1 A" in md and "alpha [1]" in md
    assert "A1" not in md and "## 2" not in md and "Not written" not in md  # no empty headings
    r.write("section-1.2", "beta [2] in [2019]", [2])
    r.rename("section-3", "3. Section-3 C")
    r.write("section-3", "gamma [3]", [3])
    md = report_markdown(state)
    assert "### 1.1 A2\n\nbeta [2] in [2019]" in md and "## 2 C\n\ngamma [1]" in md
    nodes = outline(state)["nodes"]
    statuses = {n["position"]: n["status"] for n in nodes + nodes[0]["children"]}
    assert statuses["section-1"] == "extended" and statuses["section-2"] == "failed"
