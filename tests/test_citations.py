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
    assert refs == ["[1] T3 — f3.md, p. 3, chars 0-0", "[2] T1 — f1.md, p. 1, chars 0-0"]
