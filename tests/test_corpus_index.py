"""Indexing, incremental updates, search, the CLI commands and the sample collection."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from corpus_files import SHARED
from jupyter_warp.cli import main
from jupyter_warp.corpus import Index, Searcher, build_index, open_index, register
from jupyter_warp.corpus.loaders import loader_for
from jupyter_warp.corpus.samples import export_pydoc_topics
from jupyter_warp.errors import IndexMissingError


@pytest.fixture(scope="module")
def pydoc_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pydoc")
    export_pydoc_topics(root / "docs")
    build_index([root / "docs"], root / "index", progress=False)
    return root


@pytest.fixture
def counting(monkeypatch):
    """Count loader calls per file name, through the real loaders."""
    calls: dict[str, int] = {}
    original = {s: loader_for(Path("x" + s)) for s in (".txt", ".md")}

    class Counting:
        def __init__(self, inner):
            self.inner = inner

        def load(self, path, data):
            calls[path.name] = calls.get(path.name, 0) + 1
            return self.inner.load(path, data)

    for suffix, loader in original.items():
        register(suffix, Counting(loader))
    yield calls
    for suffix, loader in original.items():
        register(suffix, loader)


def test_incremental_update(tmp_path, counting):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    for i in range(5):
        (docs / f"note{i}.txt").write_text(f"Note {i}\n\nThe heron number {i} fished in the marsh.\n")
    (docs / "sub").mkdir()
    (docs / "sub" / "deep.md").write_text("# Deep\n\nA kingfisher dives.\n")
    first = build_index([docs], index, progress=False)
    assert (first.added, first.updated, first.removed, first.unchanged) == (6, 0, 0, 0)
    assert first.passages == first.total_passages == 6
    with open_index(index) as idx:
        before = {p.doc_id for p in idx.search("heron", k=10)}
    assert len(before) == 5 and all("#" in d for d in before)

    counting.clear()
    again = build_index([docs], index, progress=False)
    assert (again.added, again.updated, again.unchanged, again.passages) == (0, 0, 6, 0)
    assert counting == {} and again.seconds < 1.0

    os.utime(docs / "note0.txt", ns=(1, 1))  # mtime moved, content equal: hash says unchanged
    (docs / "note1.txt").write_text("Note 1\n\nNow the heron sleeps, an egret fishes.\n")
    (docs / "note2.txt").unlink()
    (docs / "new.txt").write_text("New\n\nA bittern booms.\n")
    third = build_index([docs], index, progress=False)
    assert (third.added, third.updated, third.removed, third.unchanged) == (1, 1, 1, 4)
    assert counting == {"note1.txt": 1, "new.txt": 1}
    with open_index(index) as idx:
        herons = {"note0.txt", "note1.txt", "note3.txt", "note4.txt"}
        assert {Path(p.path).name for p in idx.search("heron", k=10)} == herons
        assert idx.search("egret")[0].doc_id.endswith("note1.txt#0")
        assert idx.search("bittern") and idx.doc_count() == 6 and idx.file_count() == 6
        after = {p.doc_id for p in idx.search("heron", k=10)}
    assert {d for d in before if "note0" in d or "note3" in d} <= after


def test_other_roots_are_kept(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.txt").write_text("alpha\n\nThe ibis wades.\n")
    (tmp_path / "b" / "y.txt").write_text("beta\n\nThe stork nests.\n")
    build_index([tmp_path / "a"], tmp_path / "index", progress=False)
    summary = build_index([tmp_path / "b"], tmp_path / "index", progress=False)
    assert summary.removed == 0 and summary.total_passages == 2
    with open_index(tmp_path / "index") as idx:
        assert idx.search("ibis") and idx.search("stork")


def test_open_missing_index(tmp_path):
    with pytest.raises(IndexMissingError):
        open_index(tmp_path / "nothing")
    assert main(["search", "x", "--index", str(tmp_path / "nothing")]) == 2


def test_index_is_a_searcher(pydoc_index):
    with open_index(pydoc_index / "index") as idx:
        assert isinstance(idx, Index)
        searcher: Searcher = idx
        assert searcher.search_many(["assignment"], 3)


def test_search_ranking_and_fields(pydoc_index):
    with open_index(pydoc_index / "index") as idx:
        hits = idx.search("augmented assignment statements", k=5)
        assert hits[0].title == "Assignment statements" or "Augmented" in hits[0].heading + hits[0].title
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
        hit = idx.search("with statement context manager", k=1)[0]
        source = Path(hit.path).read_text()
        assert source[hit.start : hit.end] == hit.text


def test_search_many_shares_and_dedups(pydoc_index):
    with open_index(pydoc_index / "index") as idx:
        a = idx.search("yield expression generator", k=10)
        b = idx.search("exception handling try except", k=10)
        got = idx.search_many(["yield expression generator", "exception handling try except"], 6)
        assert len(got) == 6 and len({p.doc_id for p in got}) == 6
        ids = [p.doc_id for p in got]
        assert sum(d in {p.doc_id for p in a} for d in ids) >= 2
        assert sum(d in {p.doc_id for p in b} for d in ids) >= 2
        assert ids[0] == a[0].doc_id and ids[1] == b[0].doc_id
        assert len({" ".join(p.text.split()) for p in got}) == 6
        same = idx.search_many(["assignment", "assignment", " assignment "], 5)
        single = idx.search_many(["assignment"], 5)
        assert [p.doc_id for p in same] == [p.doc_id for p in single]
        ranked = [p.doc_id for p in idx.search("assignment", 10)]
        assert [ranked.index(p.doc_id) for p in single] == sorted(ranked.index(p.doc_id) for p in single)
        many = idx.search_many(["lambda", "class", "import", "while loop", "global", "nonlocal"], 7)
        assert len(many) == 7 and len({p.doc_id for p in many}) == 7
        assert idx.search_many([], 5) == [] and idx.search_many(["", "  "], 5) == []
        assert len(idx.search_many(["zzzqqq", "statement"], 4)) == 4


def test_search_many_round_robin_exactly(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(1, 5):
        (docs / f"a{i}.txt").write_text(f"A{i}\n\n" + "alpha " * (10 - i) + f"filler{i} words here.\n")
        (docs / f"b{i}.txt").write_text(f"B{i}\n\n" + "beta " * (10 - i) + f"other{i} words here.\n")
    (docs / "copy_of_a1.txt").write_text((docs / "a1.txt").read_text())
    build_index([docs], tmp_path / "index", progress=False)
    with open_index(tmp_path / "index") as idx:
        alpha = [Path(p.path).name for p in idx.search("alpha", 10)]
        assert set(alpha[:2]) == {"a1.txt", "copy_of_a1.txt"}
        got = [Path(p.path).name for p in idx.search_many(["alpha", "beta"], 5)]
        assert got[0] in ("a1.txt", "copy_of_a1.txt") and got[1:] == ["b1.txt", "a2.txt", "b2.txt", "a3.txt"]
        got = [Path(p.path).name for p in idx.search_many(["beta", "nomatchword"], 3)]
        assert got == ["b1.txt", "b2.txt", "b3.txt"]


ODD = [
    "", "   ", '"', '"unclosed phrase', "a:b:c", "title:", ":", "(((", ")", "[x TO", "{", "}", "AND", "OR",
    "NOT", "AND OR NOT", "x AND", "NOT NOT x", "*", "?", "foo*", "^2", "x^", "~", "x~2", "'", "''",
    "\\", "/", "-", "+", "!", "&&", "||", "%", "@#$%^&*()", "🙂", "\x00", "a\x00b", "é", "ß",
    "Привет мир", "مرحبا", "こんにちは世界", "한국어 검색", "x" * 5000, "the of and", "<script>",
    "title:foo (bar AND [baz", "\"context manager\" AND NOT yield", "lambda OR class",
]


def _drb_prompts() -> list[str]:
    path = SHARED / "deep_research_bench" / "query.jsonl"
    if not path.exists():
        return ["中国金融未来的发展趋势，未来哪一个细分领域（例如投行、pe、固收等）更有上升空间？", "人工智能 教育"]
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["prompt"] for line in f][:8]


def test_odd_and_chinese_queries_never_raise(pydoc_index):
    with open_index(pydoc_index / "index") as idx:
        for q in ODD + _drb_prompts():
            assert isinstance(idx.search(q, k=3), list)
            assert isinstance(idx.search_many([q, "assignment"], 4), list)
            idx.highlight(idx.search("assignment", 1)[0], q)
        assert idx.search("lambda OR class")
        assert idx.search('"context manager"')


def test_chinese_documents_are_found(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "zh.md").write_text(
        "# 机器学习\n\n机器学习算法在自然语言处理中的应用非常广泛。\n\n"
        "## 金融\n\n人工智能在金融行业的应用包括风险控制和智能投顾。\n",
        encoding="utf-8",
    )
    (docs / "en.md").write_text("# Running\n\nRunners were running along the river.\n")
    build_index([docs], tmp_path / "index", progress=False)
    with open_index(tmp_path / "index") as idx:
        assert idx.search("自然语言处理")[0].path.endswith("zh.md")
        assert idx.search("金融 风险")[0].heading == "金融"
        assert idx.search("中国金融未来的发展趋势，未来哪一个细分领域更有上升空间？")[0].heading == "金融"
        assert idx.search("run")[0].path.endswith("en.md")
        assert idx.search("机器学习 running", k=5) and len(idx.search_many(["机器学习", "running"], 2)) == 2


def test_cli_index_and_search(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Terns\n\nArctic terns migrate from pole to pole every year.\n")
    (docs / "bad.txt").write_bytes(b"\x00\x01binary")
    index = str(tmp_path / "index")
    assert main(["index", str(docs), "--index", index, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "1 added" in out and "1 skipped" in out and "bad.txt: binary file" in out
    assert main(["search", "tern migration", "--index", index, "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "1. Terns" in out and "**terns**" in out.lower() and "a.md" in out
    assert main(["search", "nothingmatcheshere", "--index", index]) == 0
    assert "no passages match" in capsys.readouterr().out
    assert main(["index", str(tmp_path / "missing"), "--index", index]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_export_pydoc_topics_is_idempotent(tmp_path):
    first = export_pydoc_topics(tmp_path / "t")
    assert len(first) > 50 and all(p.read_text().startswith("# ") for p in first)
    stamps = {p: p.stat().st_mtime_ns for p in first}
    second = export_pydoc_topics(tmp_path / "t")
    assert second == first and all(p.stat().st_mtime_ns == stamps[p] for p in second)
