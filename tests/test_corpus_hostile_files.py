"""Hostile files: names that are not UTF-8 or hold a newline, and decompression bombs (DOCX, PDF)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from corpus_files import make_pdf
from jupyter_warp.cli import main
from jupyter_warp.config import WarpConfig
from jupyter_warp.corpus import build_index, open_index
from jupyter_warp.errors import ConfigError
from jupyter_warp.runs import Run
from scripted import ScriptedBackend, good_script


def test_name_not_utf8_is_skipped_and_the_rest_committed(tmp_path, capsys):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "good.txt").write_text("Good\n\nThe okapi grazes.\n")
    raw = os.fsencode(docs)
    try:
        with open(raw + b"/caf\xe9.txt", "wb") as f:
            f.write(b"Cafe\n\nThe quokka smiles.\n")
        os.mkdir(raw + b"/old\xff")
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    with open(raw + b"/old\xff/inner.md", "wb") as f:
        f.write(b"# Inner\n\nThe quokka hides.\n")
    (docs / "z.md").write_text("# Z\n\nThe zebra runs.\n")

    assert main(["index", str(docs), "--index", str(index), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2 added" in out and "2 skipped" in out
    assert f"skipped {docs}/caf\\xe9.txt: name is not valid UTF-8: rename it" in out
    assert f"skipped {docs}/old\\xff: folder name is not valid UTF-8" in out
    with open_index(index) as idx:
        assert idx.search("okapi") and idx.search("zebra") and idx.search("quokka") == []
    again = build_index([docs], index, progress=False)
    assert again.unchanged == 2 and again.skipped == 2


def test_newline_in_a_file_name_keeps_its_references_line_whole(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "alpha\nbeta [9] evil.md").write_text("# Alpha\n\nAlpha and beta evidence, " * 20)
    (docs / "gamma\x1b[31m.md").write_text("# Gamma\n\nMore alpha and beta evidence here. " * 20)
    build_index([docs], index, progress=False)
    run = Run.create("q about alpha", WarpConfig(max_extends=0, max_steps=12), run_dir=tmp_path / "r",
                     backend=ScriptedBackend(good_script()), searcher=open_index(index))
    run.run()
    refs = [line for line in run.snapshot().markdown.split("## References")[1].splitlines() if line.strip()]
    assert len(refs) == len(run.report.citation_order()) >= 2
    assert all(line.startswith(f"[{n}] ") for n, line in enumerate(refs, 1)), refs
    text = "\n".join(refs)
    # The unmatched "[" is escaped so that the link to the file stays one link.
    assert "alpha\\nbeta [9] evil.md" in text and "gamma\\x1b\\[31m.md" in text and "\x1b" not in text


def _docx_bomb(path: Path, xml_mb: float) -> None:
    """A DOCX whose document.xml is ``xml_mb`` MB of one tiny paragraph repeated (compresses ~300:1)."""
    import docx

    buf = io.BytesIO()
    docx.Document().save(buf)
    src = zipfile.ZipFile(buf)
    xml = src.read("word/document.xml").decode()
    para = "<w:p><w:r><w:t>aardvark burrow</w:t></w:r></w:p>"
    body = para * int(xml_mb * 1e6 / len(para))
    xml = xml.split("<w:body>")[0] + "<w:body>" + body + "</w:body></w:document>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            out.writestr(item.filename, xml if item.filename == "word/document.xml" else src.read(item.filename))


def test_docx_bomb_is_refused_by_its_uncompressed_size(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    _docx_bomb(docs / "bomb.docx", 24)  # over the default 20 MB of XML
    _docx_bomb(docs / "small.docx", 0.5)
    assert (docs / "bomb.docx").stat().st_size < 300_000
    summary = build_index([docs], index, progress=False, max_text_mb=1)
    reasons = {Path(p).name: r for p, r in summary.skipped_reasons}
    assert reasons["bomb.docx"].startswith("expands to 25 MB of XML (> 1.0 MB; a decompression bomb?")
    assert reasons["small.docx"].startswith("expands to 1.3 MB of XML (> 1.0 MB")  # 0.8 MB is the template

    summary = build_index([docs], index, progress=False)  # default limits: the small one is read again
    reasons = {Path(p).name: r for p, r in summary.skipped_reasons}
    assert set(reasons) == {"bomb.docx"} and "(> 20 MB" in reasons["bomb.docx"]
    assert summary.updated == 1 and summary.passages > 0
    with open_index(index) as idx:
        assert {Path(p.path).name for p in idx.search("aardvark", k=5)} == {"small.docx"}


def _page_bomb(times: int) -> bytes:
    """A PDF whose page tree lists its one page ``times`` times (about 6 bytes each)."""
    data = make_pdf(["The same page about pangolins."])
    return data.replace(b"/Kids [3 0 R] /Count 1", b"/Kids [" + b"3 0 R " * times + b"] /Count " + str(times).encode())


def test_pdf_pages_are_capped_and_the_cap_is_a_setting(tmp_path, capsys):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "bomb.pdf").write_bytes(_page_bomb(20_000))
    (docs / "long.pdf").write_bytes(make_pdf([f"Page {n} tells of the narwhal{n}" for n in range(1, 31)]))
    assert (docs / "bomb.pdf").stat().st_size < 200_000

    assert main(["index", str(docs), "--index", str(index), "--quiet", "--max-pdf-pages", "10"]) == 0
    out = capsys.readouterr().out
    assert "only the first 10 of 30 pages read (--max-pdf-pages)" in out
    assert "9 repeated pages read once; only the first 10 of 20000 pages read" in out
    with open_index(index) as idx:
        assert len(idx.search("pangolins", k=50)) == 1
        assert idx.search("narwhal10") and idx.search("narwhal11") == []

    summary = build_index([docs], index, progress=False, max_pdf_pages=100)  # a new cap re-reads capped files
    assert summary.updated == 2 and summary.unchanged == 0
    with open_index(index) as idx:
        assert idx.search("narwhal30")
    assert build_index([docs], index, progress=False, max_pdf_pages=100).unchanged == 2


def test_pdf_text_is_capped(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "long.pdf").write_bytes(make_pdf([f"Page {n} of the walrus{n} chronicle " * 20 for n in range(1, 6)]))
    summary = build_index([docs], tmp_path / "index", progress=False, max_text_mb=0.002)
    (note,) = [n for _, n in summary.notes]
    assert note == "text cut at page 4 (0.002 MB, --max-text-mb)"  # 4 pages of 660 characters
    with open_index(tmp_path / "index") as idx:
        assert idx.search("walrus4") and idx.search("walrus5") == []


@pytest.mark.parametrize("flag", ["--max-text-mb", "--max-pdf-pages", "--max-file-mb"])
def test_limits_must_be_positive(tmp_path, capsys, flag):
    (tmp_path / "docs").mkdir()
    assert main(["index", str(tmp_path / "docs"), "--index", str(tmp_path / "index"), flag, "0"]) == 2
    assert "limits must be positive" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        build_index([tmp_path / "docs"], tmp_path / "index", max_pdf_pages=-1)
