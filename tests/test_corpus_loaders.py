"""Loaders, chunking and decoding on real files made here, and on the shared real documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from corpus_files import SHARED, make_all_formats
from jupyter_warp.corpus import build_index, open_index
from jupyter_warp.corpus.analysis import terms
from jupyter_warp.corpus.chunking import chunk_blocks, count_words
from jupyter_warp.corpus.document import Block
from jupyter_warp.corpus.loaders import loader_for, supported_suffixes
from jupyter_warp.corpus.textio import decode_text
from jupyter_warp.errors import UnreadableFileError


def load(path: Path):
    return loader_for(path).load(path, path.read_bytes())


@pytest.fixture(scope="module")
def formats(tmp_path_factory) -> dict[str, Path]:
    return make_all_formats(tmp_path_factory.mktemp("formats"))


@pytest.fixture(scope="module")
def indexed(formats, tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("idx")
    summary = build_index([formats["txt"].parent], index_dir, progress=False)
    with open_index(index_dir) as idx:
        yield summary, idx


def test_every_listed_format_is_supported():
    for suffix in (".txt", ".md", ".rst", ".html", ".htm", ".pdf", ".ipynb", ".docx", ".tex", ".csv"):
        assert suffix in supported_suffixes()


def test_all_formats_indexed(indexed):
    summary, idx = indexed
    assert summary.added == 9 and summary.skipped == 0, summary.skipped_reasons
    expect = {
        "zebrafish": ("notes.txt", "Field notes"),
        "quokka": ("guide.md", "Install guide"),
        "pangolin": ("spec.rst", "Pangolin Protocol"),
        "ituri": ("page.html", "Okapi facts"),
        "axolotl": ("paper.pdf", "paper"),
        "moraine": ("analysis.ipynb", "Glacier analysis"),
        "chukchi": ("report.docx", "Quarterly Walrus Report"),
        "spirally": ("thesis.tex", "Narwhal Tusks"),
        "capybara": ("table.csv", "table"),
    }
    for word, (name, title) in expect.items():
        hits = idx.search(word, k=3)
        assert hits, word
        assert Path(hits[0].path).name == name and hits[0].title == title, (word, hits[0])


def test_offsets_point_into_the_source(formats, indexed):
    _, idx = indexed
    for kind in ("txt", "md", "rst", "tex", "csv"):
        source = formats[kind].read_text()
        mine = [p for p in idx.search(source, k=50) if Path(p.path) == formats[kind].resolve()]
        assert mine, kind
        for p in mine:
            assert source[p.start : p.end] == p.text


def test_markdown_headings_ignore_code_fences(formats):
    doc = load(formats["md"])
    assert doc.title == "Install guide"
    assert [b.heading for b in doc.blocks] == ["", "Linux", "Windows"]
    assert "# not a heading" in doc.blocks[1].text


def test_rst_title_field_and_sections(formats):
    doc = load(formats["rst"])
    assert doc.title == "Pangolin Protocol"
    assert [b.heading for b in doc.blocks] == ["", "Abstract", "Abstract > Details"]


def test_html_drops_scripts_and_keeps_structure(formats, indexed):
    doc = load(formats["html"])
    text = "\n".join(b.text for b in doc.blocks)
    assert "secretscript" not in text and "color:red" not in text
    assert "leaves" in text and "weight | 250 kg" in text
    assert {b.heading for b in doc.blocks} == {"Okapi", "Okapi > Diet"}
    assert indexed[1].search("secretscript") == []


def test_pdf_pages(formats, indexed):
    doc = load(formats["pdf"])
    assert [b.page for b in doc.blocks] == [1, 2]
    hit = indexed[1].search("salamanders", k=1)[0]
    assert hit.page == 2 and "salamanders" in hit.text


def test_notebook_cells_and_outputs(formats):
    doc = load(formats["ipynb"])
    text = "\n".join(b.text for b in doc.blocks)
    assert "42 metres per year" in text and "ValueError: bad moraine" in text
    assert "iVBORw0KGgo" not in text and "\x1b" not in text
    assert doc.blocks[-1].heading == "Results"


def test_docx_headings_and_tables(formats):
    doc = load(formats["docx"])
    assert doc.title == "Quarterly Walrus Report"
    assert [b.heading for b in doc.blocks] == ["Population", "Population > Feeding grounds"]
    assert "Chukchi | 12000" in doc.blocks[-1].text


def test_latex_sections_skip_comments(formats):
    doc = load(formats["tex"])
    assert doc.title == "Narwhal Tusks"
    assert [b.heading for b in doc.blocks][-2:] == ["Introduction", "Introduction > Growth"]


def test_csv_header_is_the_heading(formats):
    doc = load(formats["csv"])
    assert doc.blocks[0].heading == "species,habitat,count"
    assert doc.blocks[0].text.startswith("capybara")


def test_chunking_sizes_and_exact_offsets():
    paragraphs = [" ".join(f"word{i}x{j}" for j in range(70)) for i in range(10)]
    text = "\n\n".join(paragraphs)
    pieces = chunk_blocks([Block(text, 100, heading="H")])
    assert len(pieces) > 3
    for p in pieces:
        assert text[p.start - 100 : p.end - 100] == p.text
        assert count_words(p.text) <= 200 and p.heading == "H"
    one_long = " ".join(f"w{j}" for j in range(1000)) + "."
    assert all(count_words(p.text) <= 200 for p in chunk_blocks([Block(one_long)]))
    chinese = "机器学习在自然语言处理中的应用非常广泛" * 60
    pieces = chunk_blocks([Block(chinese)])
    assert len(pieces) > 1 and "".join(p.text for p in pieces) == chinese


def test_analyzer_stems_english_and_segments_chinese():
    assert terms("running runners") == terms("run runner")
    assert "机器" in terms("机器学习算法") and "学习" in terms("机器学习算法")
    assert terms("The cat's whiskers") == ["cat", "whisker"]


def test_decoding():
    assert decode_text("naïve".encode(), "x") == ("naïve", None)
    text, note = decode_text("Müller, café, größer.".encode("cp1252"), "x")
    assert text == "Müller, café, größer." and "Windows-1252" in note
    text, note = decode_text("中文文本的编码测试，这是一个句子。".encode("gb18030"), "x")
    assert text.startswith("中文") and "GB18030" in note
    assert decode_text("\ufeffhello".encode("utf-8"), "x")[0] == "hello"
    assert decode_text("hello".encode("utf-16"), "x")[0] == "hello"
    with pytest.raises(UnreadableFileError, match="binary"):
        decode_text(b"ELF\x00\x01\x02", "x")
    with pytest.raises(UnreadableFileError, match="binary"):
        decode_text(bytes(range(1, 32)) * 50, "x")


def _recall(expected: str, got: str) -> float:
    """Share of the ground truth's words (link targets and image data left out) found in ``got``."""
    expected = re.sub(r"\]\([^)]*\)|<!--.*?-->|data:\S+", " ", expected)
    want = set(re.findall(r"[a-z]{4,}", expected.lower()))
    have = set(re.findall(r"[a-z]{4,}", got.lower()))
    return len(want & have) / max(1, len(want))


DOCLING = SHARED / "corpora" / "docling_testdocs"


@pytest.mark.skipif(not DOCLING.is_dir(), reason="shared corpora not present")
@pytest.mark.parametrize(
    "source, truth, minimum",
    [
        ("html/sources/wiki_duck.html", "html/groundtruth/wiki_duck.html.md", 0.85),
        ("html/sources/example_01.html", "html/groundtruth/example_01.html.md", 0.9),
        ("docx/sources/word_sample.docx", "docx/groundtruth/word_sample.docx.md", 0.9),
        ("docx/sources/unit_test_headers.docx", "docx/groundtruth/unit_test_headers.docx.md", 0.9),
        ("docx/sources/textbox.docx", "docx/groundtruth/textbox.docx.md", 0.9),
        ("html/sources/unit_test_01.html", "html/groundtruth/unit_test_01.html.md", 0.9),
        ("pdf/sources/multi_page.pdf", "pdf/groundtruth/multi_page.md", 0.9),
        ("pdf/sources/2305.03393v1-pg9.pdf", "pdf/groundtruth/2305.03393v1-pg9.md", 0.85),
    ],
)
def test_real_documents_match_ground_truth(source, truth, minimum):
    src, gt = DOCLING / source, DOCLING / truth
    if not src.exists() or not gt.exists():
        pytest.skip(f"{source} not in the shared corpora")
    doc = load(src)
    text = "\n".join(f"{b.heading}\n{b.text}" for b in doc.blocks) + " " + doc.title
    assert _recall(gt.read_text(encoding="utf-8"), text) >= minimum


@pytest.mark.skipif(not DOCLING.is_dir(), reason="shared corpora not present")
def test_scanned_pdf_is_refused_with_a_reason():
    scans = sorted((DOCLING / "ocr" / "sources").glob("*.pdf"))
    if not scans:
        pytest.skip("no scanned PDFs in the shared corpora")
    with pytest.raises(UnreadableFileError, match="no text layer"):
        load(scans[0])


NOTEBOOKS = SHARED / "corpora" / "ipynb_samples"


@pytest.mark.skipif(not NOTEBOOKS.is_dir(), reason="shared corpora not present")
def test_real_notebooks_load_or_give_a_reason():
    loaded = 0
    for path in sorted(NOTEBOOKS.rglob("*.ipynb")):
        try:
            doc = load(path)
        except UnreadableFileError as exc:
            assert exc.reason
            continue
        loaded += 1
        assert doc.title and all(b.text.strip() for b in doc.blocks)
    assert loaded >= 25
