"""The retrieval benchmark on the tiny BEIR collection, its metrics, and the PEP/tldr set builder."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "beir_tiny"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


retrieval = _module("retrieval")
make_pep_beir = _module("make_pep_beir")


def test_bench_prints_exactly_the_six_lines(tmp_path, capsys):
    assert retrieval.main([str(TINY), "--index", str(tmp_path / "index")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [line.split(":")[0] for line in lines]
    assert names == ["ndcg@10", "recall@100", "index_docs_per_s", "query_ms_p50", "query_ms_p95", "reindex_unchanged_s"]
    values = {line.split(":")[0]: float(line.split(":")[1]) for line in lines}
    assert values["ndcg@10"] >= 0.8 and values["recall@100"] == 1.0
    assert values["reindex_unchanged_s"] < 1.0 and values["index_docs_per_s"] > 0
    assert retrieval.main([str(TINY), "--index", str(tmp_path / "index")]) == 0  # rebuilds its own index


def test_bench_refuses_to_delete_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("precious")
    with pytest.raises(SystemExit):
        retrieval.main([str(TINY), "--index", str(tmp_path / "mine")])
    assert (tmp_path / "mine" / "keep.txt").exists()


def test_metrics_match_trec_eval_definitions():
    rels = {"a": 2, "b": 1, "c": 0}
    ideal = 2 + 1 / math.log2(3)
    assert retrieval.ndcg_at(["a", "b"], rels, 10) == pytest.approx(1.0)
    assert retrieval.ndcg_at(["x", "a"], rels, 10) == pytest.approx((2 / math.log2(3)) / ideal)
    assert retrieval.ndcg_at(["x"], {"a": 0}, 10) == 0.0
    assert retrieval.recall_at(["a", "x", "b"], rels, 2) == 0.5


def test_make_sets_from_corpora_layout(tmp_path):
    corpora = tmp_path / "corpora"
    (corpora / "python_peps").mkdir(parents=True)
    (corpora / "tldr_pages_en" / "pages" / "common").mkdir(parents=True)
    body = " ".join(["The proposal explains why iterators need a protocol."] * 6)
    (corpora / "python_peps" / "pep-0234.rst").write_text(
        f"PEP: 234\nTitle: Iterators\nAuthor: Someone\n\n\nAbstract\n========\n\n{body}\n\n"
        f"Copyright\n=========\n\nThis document is placed in the public domain, as are all the words in it here.\n"
    )
    (corpora / "tldr_pages_en" / "pages" / "common" / "tar.md").write_text(
        "# tar\n\n> Archiving utility.\n\n- List the contents of a tar file:\n\n`tar tvf {{file.tar}}`\n\n"
        "- Extract an archive:\n\n`tar xf {{file.tar}}`\n"
    )
    out = tmp_path / "peps"
    assert make_pep_beir.main([str(out), "--corpora", str(corpora)]) == 0
    corpus = [json.loads(line) for line in (out / "corpus.jsonl").read_text().splitlines()]
    assert [d["_id"] for d in corpus] == ["pep234-1"] and "Iterators" not in json.dumps(corpus)
    assert json.loads((out / "queries.jsonl").read_text())["text"] == "Iterators"
    assert (out / "qrels" / "test.tsv").read_text().splitlines()[1] == "q234\tpep234-1\t1"
    out = tmp_path / "tldr"
    assert make_pep_beir.main([str(out), "--set", "tldr", "--corpora", str(corpora)]) == 0
    doc = json.loads((out / "corpus.jsonl").read_text())
    assert "List the contents" not in doc["text"] and doc["title"] == "tar"
    assert json.loads((out / "queries.jsonl").read_text())["text"] == "List the contents of a tar file"
