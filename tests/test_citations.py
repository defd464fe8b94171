from jupyter_warp.citations import CitationRegistry, check_citations, reference_lines, renumberer
from jupyter_warp.records import Passage


def test_both_syntaxes_normalised_and_unknown_removed():
    checked = check_citations(r"Claim one \cite{textid7, textid2}. Claim two [7, 9]. Three [textid2][4].", [2, 7])
    assert checked.text == "Claim one [7][2]. Claim two [7]. Three [2]."
    assert checked.cited == [7, 2]
    assert checked.removed == 2


def test_other_citation_forms_read_and_brackets_kept():
    text = "In [2019] x[0] grew 【5】, see [1-3] and [1, 2]; `a[3]` stays; \\cite{textid99} goes [9]."
    checked = check_citations(text, [1, 2, 3, 5])
    assert checked.text == "In [2019] x[0] grew [5], see [1][2][3] and [1][2]; `a[3]` stays; goes [9]."
    assert checked.cited == [5, 1, 2, 3] and checked.removed == 1


def test_markdown_kept_character_for_character():
    body = "| a  | b |\n|----|---|\n|  x | 1 [3] |\n\n- one\n    - nested \\cite{textid3}\n\n```\ncode  [3]\n```"
    checked = check_citations(body, [3])
    assert checked.text == body.replace("\\cite{textid3}", "[3]")


def test_brackets_that_are_not_citations_stay():
    checked = check_citations("A list [a, b] and a citation [3].", [3])
    assert checked.text == "A list [a, b] and a citation [3]."


def test_registry_keys_stable_and_roundtrip():
    reg = CitationRegistry()
    a = Passage(doc_id="a#0", text="x", path="a.md", page=2, heading="H")
    b = Passage(doc_id="b#1", text="y", path="b.md")
    assert reg.keys_for([a, b, a]) == [1, 2, 1]
    again = CitationRegistry.from_dict(reg.to_dict())
    assert again.key_for(b) == 2 and again.key_for(Passage(doc_id="c", text="", path="c")) == 3


def test_a_key_names_the_passage_text_across_a_reindex():
    reg = CitationRegistry()
    old = Passage(doc_id="a.md#3", text="old third chunk", path="a.md")
    assert reg.key_for(old) == 1
    moved = Passage(doc_id="a.md#4", text="old  third\nchunk", path="a.md")  # renumbered by a re-index
    shifted = Passage(doc_id="a.md#3", text="a new chunk took number 3", path="a.md")
    assert reg.key_for(moved) == 1 and reg.key_for(shifted) == 2
    again = CitationRegistry.from_list(list(reg.passages.values()))
    assert again.key_for(shifted) == 2 and again.passages[1].text == "old third chunk"


def test_renumber_in_order_of_first_use_and_references_only_cited():
    reg = CitationRegistry()
    for i in range(5):
        reg.key_for(Passage(doc_id=f"d{i}", text="t", path=f"f{i}.md", title=f"T{i}", page=i))
    order = [4, 2]
    assert renumberer(order)("x [4] y [2][4] z [3]") == "x [1] y [2][1] z [3]"
    assert renumberer(order)("x [4] in [2019]", [4]) == "x [1] in [2019]"
    refs = reference_lines(order, reg)
    assert refs == ["[1] T3 — [f3.md](f3.md), p. 3", "[2] T1 — [f1.md](f1.md), p. 1"]


def test_references_link_to_the_file_its_page_and_heading(tmp_path):
    """``[n] Title — [path](href), p. P, § Heading``: relative to the notebook's folder,
    percent-encoded, ``#page=N`` for a PDF, ``#Heading-text`` for Markdown and notebooks."""
    from jupyter_warp.citations import reference_line

    base = tmp_path / "project"
    md = Passage(doc_id="a", text="", path=str(base / "docs" / "warp notes.md"), title="WARP notes",
                 heading="Intro > Drafting and deepening", start=10, end=90)
    pdf = Passage(doc_id="b", text="", path=str(base / "papers" / "paper (v2).pdf"), title="A paper", page=3)
    nb = Passage(doc_id="c", text="", path=str(base / "nb.ipynb"), heading="Résumé à faire")
    txt = Passage(doc_id="d", text="", path=str(base / "notes.txt"), heading="Part")
    outside = Passage(doc_id="e", text="", path=str(tmp_path / "elsewhere" / "x.md"))
    assert reference_line(1, md, base) == ("[1] WARP notes — [docs/warp notes.md](docs/warp%20notes.md"
                                           "#Drafting-and-deepening), § Intro > Drafting and deepening")
    assert reference_line(2, pdf, base) == (
        "[2] A paper — [papers/paper (v2).pdf](papers/paper%20%28v2%29.pdf#page=3), p. 3")
    assert reference_line(3, nb, base) == "[3] [nb.ipynb](nb.ipynb#R%C3%A9sum%C3%A9-%C3%A0-faire), § Résumé à faire"
    assert reference_line(4, txt, base) == "[4] [notes.txt](notes.txt), § Part"  # no heading anchors in text files
    # Outside the folder: the path as stored, linked relatively (JupyterLab opens it when its root holds it).
    assert reference_line(5, outside, base) == f"[5] [{outside.path}](../elsewhere/x.md)"
    # Nothing breaks the link: brackets, backticks, a newline, a backslash before punctuation.
    odd = Passage(doc_id="f", text="", path=str(base / "a]b [c] `d`\n\\*.md"))
    line = reference_line(6, odd, base)
    assert line == r"[6] [a\]b [c] \`d\`\n\\*.md](a%5Db%20%5Bc%5D%20%60d%60%0A%5C%2A.md)"
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").render(line)
    assert html.count("<a href=") == 1 and "a]b [c] <code>" not in html
