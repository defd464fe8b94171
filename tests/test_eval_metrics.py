"""Model-free metrics on runs and reports whose answers are known by construction."""

import json

import pytest

from eval_fixtures import CHAIN, FINALLY, INSTRUCTION, TRY, clean_script, make_run
from jupyter_warp.citations import check_citations
from jupyter_warp.evaluate import evaluate
from jupyter_warp.evaluate import text as T
from jupyter_warp.evaluate.instructions import instruction_phrases
from jupyter_warp.evaluate.metrics import report_metrics
from jupyter_warp.evaluate.records import ReportRecord, Section, SourcePassage

AGENTCPM = "../shared/data/agentcpm_prompts"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    make_run(root / "defects")
    make_run(root / "clean", clean_script())
    return root


def by_position(report):
    return {s["position"]: s for s in report.sections}


def test_supported_invented_repeated_and_copied(runs):
    report = evaluate([runs / "defects"]).reports[0]
    m, sections = report.metrics, by_position(report)
    # Section 1: a sentence copied from its passage (support 1) and an invented one (0).
    assert sections["section-1"]["citation_support"] == pytest.approx(0.5)
    assert sections["section-1"]["supported_share"] == 0.5
    # Section 3 repeats section 2's paragraph and copies an instruction phrase.
    assert sections["section-2"]["repetition"] == 0.0 and sections["section-3"]["repetition"] > 0.4
    assert m["repeated_paragraphs"] == 1 and m["repetition"] > 0.1
    assert sections["section-3"]["instruction_copy"] > 0.3 and sections["section-1"]["instruction_copy"] == 0
    assert report.copied_phrases == [" ".join(T.words(INSTRUCTION))]
    # Five cited sentences: copied (x3, one of them the repeat) supported; invented and instruction not.
    assert m["cited_sentences"] == 5 and m["supported_share"] == pytest.approx(3 / 5)
    assert m["citation_validity"] == 1.0 and m["uncited_statements"] == 0.0 and m["language_match"] == 1.0
    assert (m["sections"], m["nodes"], m["max_depth"], m["extends"], m["written"]) == (3, 3, 1, 0, 3)
    assert m["sources_cited"] == 3 and m["docs_cited"] == 3


def test_a_clean_run_has_no_defects(runs):
    m = evaluate([runs / "clean"]).reports[0].metrics
    assert m["supported_share"] == 1.0 and m["citation_support"] == 1.0
    assert m["repetition"] == 0 and m["repeated_paragraphs"] == 0 and m["instruction_copy"] == 0
    assert m["source_diversity"] == pytest.approx(1.0) and m["top_source_share"] == pytest.approx(1 / 3)


def test_deterministic(runs):
    first = evaluate([runs / "defects", runs / "clean"]).to_dict()
    second = evaluate([runs / "defects", runs / "clean"]).to_dict()
    for data in (first, second):
        for report in data["reports"]:
            report.pop("eval_s")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def record(sections, query="What does the try statement do?", passages=None):
    passages = passages or {1: SourcePassage(1, TRY, doc="try.md"), 2: SourcePassage(2, CHAIN, doc="raise.md")}
    return ReportRecord(id="r", kind="run", source="-", query=query, sections=sections, passages=passages)


def test_validity_counts_markers_not_shown_for_the_section():
    text = f"{TRY[:-1]} [1][2]. {CHAIN[:-1]} [9]."
    m = report_metrics(record([Section("section-1", "A", 1, text, shown=[1])]), instruction_phrases())["metrics"]
    # [1] was shown; [2] stands in a run with it, so it cites too (a passage not shown for this
    # section); a lone [9] names nothing shown: the engine leaves it as text, and so does eval.
    assert m["citation_markers"] == 2 and m["citation_validity"] == pytest.approx(1 / 2)


def test_citations_are_read_as_the_engine_reads_them():
    text = (f"{TRY[:-1]} 【1】. In [2019] the rules changed: {CHAIN[:-1]} [1-2]. "
            f"{FINALLY[:-1]} \\cite{{textid9}}.")
    rows = T.sentences(text, [1])
    assert [r.keys for r in rows] == [[1], [1, 2], [9]]
    assert "In [2019] the rules changed" in rows[1].text and "【" not in rows[0].text
    m = report_metrics(record([Section("section-1", "A", 1, text, shown=[1])],
                              passages={k: SourcePassage(k, t, doc=f"{k}.md") for k, t in ((1, TRY), (2, CHAIN))}),
                       instruction_phrases())["metrics"]
    checked = check_citations(text, [1])
    # Four markers; the invalid ones are exactly those the engine would remove; [2019] is no marker.
    assert m["citation_markers"] == 4 and m["citation_validity"] == pytest.approx(2 / 4)
    assert checked.removed == 2 and checked.cited == [1] and "[2019]" in checked.text
    assert m["supported_share"] == pytest.approx(2 / 3)  # the FINALLY sentence cites no passage of the run


def test_uncited_statements_and_markers_after_the_full_stop():
    text = (f"{TRY} [1] The interpreter then resumes execution after the whole try statement completes. "
            "Does it?")
    rows = T.sentences(text)
    assert [r.keys for r in rows] == [[1], [], []]
    m = report_metrics(record([Section("section-1", "A", 1, text)]), instruction_phrases())["metrics"]
    assert m["uncited_statements"] == 0.5  # the question is not a statement


def test_chinese_report_language_support_and_terms():
    passage = "中国居民人均可支配收入为39218元，比上年名义增长6.3%，城镇居民收入增长较快。"
    query = "中国居民的收入和中产阶层有哪些特点？"
    text = ("中国居民人均可支配收入为39218元，比上年名义增长6.3%[1]。"
            "长颈鹿每年冬天成群迁徙穿越北方苔原地区[1]。"
            "The middle class is growing quickly in coastal cities.")
    rec = record([Section("section-1", "收入", 1, text, shown=[1])], query=query,
                 passages={1: SourcePassage(1, passage, doc="stats.md")})
    data = report_metrics(rec, instruction_phrases())
    m = data["metrics"]
    assert data["language"] == "zh"
    assert m["language_match"] == pytest.approx(2 / 3)
    assert m["cited_sentences"] == 2 and m["supported_share"] == 0.5 and m["citation_support"] > 0.45
    assert m["uncited_statements"] == pytest.approx(1 / 3)  # the English sentence cites nothing
    assert 0 < m["question_terms_covered"] < 1


def test_language_of():
    assert T.language_of("Python 的 try 语句处理异常") == "zh"
    assert T.language_of("The word 中产 means middle class") == "en"
    assert T.language_of("12 345") is None


def test_instruction_phrases_come_from_the_template_files():
    own = instruction_phrases()
    both = instruction_phrases([AGENTCPM])
    assert any(f.endswith("write.jinja") for f in own.files)
    assert len(both.files) == len(own.files) + 5 and own.ngrams < both.ngrams
    reference_phrase = T.words("You should give a paragraph with breadth and depth, ensuring it is informative")
    assert any(own.copied(reference_phrase)) is False and all(both.copied(reference_phrase))
    ordinary = T.words("The try statement runs its finally clause when the block exits for any reason at all.")
    assert not any(both.copied(ordinary))


def test_submission_structure_and_urls():
    from jupyter_warp.evaluate.sources import markdown_sections

    article = ("# Title\n\nIntro text here.\n\n## One\n\nSee https://a.org/x and https://b.org/y.\n\n"
               "### One.A\n\nMore at https://a.org/z.\n\n## References\n\n1. https://a.org/x\n")
    title, sections = markdown_sections(article)
    assert title == "Title"
    assert [(s.position, s.depth) for s in sections] == [("preamble", 0), ("section-1", 1), ("section-1.1", 2),
                                                          ("section-2", 1)]
    rec = ReportRecord(id="1", kind="submission", source="-", query="q", title=title, sections=sections)
    m = report_metrics(rec, instruction_phrases())["metrics"]
    assert (m["sections"], m["nodes"], m["max_depth"]) == (1, 2, 2)  # References is not a section of the body
    assert m["sources_cited"] == 3 and m["docs_cited"] == 2 and m["citation_validity"] is None
