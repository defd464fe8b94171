"""Retrieval quality and speed of the local corpus index on a BEIR-layout test collection.

    python bench/retrieval.py BEIR_DIR [--index DIR] [--split test] [--mode bm25|dense|hybrid|all] [--tune]

BEIR_DIR holds ``corpus.jsonl`` ({_id, title, text}), ``queries.jsonl`` ({_id, text}) and
``qrels/<split>.tsv``. Each document becomes a text file (title on the first line), the
files are indexed with ``build_index`` exactly as a user's folder would be (embedded too when
a mode needs vectors), re-indexed once unchanged, then every judged query is searched in each
mode. A document's score is its best passage's (documents longer than a passage are cut).
With ``--mode bm25`` (the default) it prints exactly these lines on stdout:

    ndcg@10: X  recall@100: Y  index_docs_per_s: Z  query_ms_p50: A  query_ms_p95: B
    reindex_unchanged_s: C

(one per line). With several modes (``--mode all`` = bm25,dense,hybrid) it prints a
``mode:`` line naming the columns, then ndcg@10, recall@100, index_passages_per_s,
embed_passages_per_s, query_ms_p50, query_ms_p95, query_cpu_ms_p50 and reindex_unchanged_s
with one value per mode (``-`` where it does not apply). Query times are for k=20, the
passages a first WARP search asks for; the CPU time (all threads) does not count waiting for
a CPU that others share, so it bounds what an idle machine's wall time would be. ``--tune``
adds one line per fusion setting (RRF and weighted sum over a grid): the rankings are
retrieved once and fused offline. Details go to stderr. nDCG uses
trec_eval's linear gain, as BEIR does.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_warp.corpus import build_index, open_index
from jupyter_warp.corpus.fusion import Fusion
from jupyter_warp.corpus.search import Index
from jupyter_warp.corpus.store import VERSION_FILE

PASSAGE_DEPTH = 300
"""Passages fetched per query to rank 100 documents."""
QUERY_K = 20
"""Passages per timed query: what a first WARP search asks for."""
MODES = ("bm25", "dense", "hybrid")
TUNE_GRID = [
    Fusion("rrf", w, c, d) for d in (50, 100, 300) for c in (10, 30, 60, 100) for w in (0.3, 0.4, 0.5, 0.6, 0.7)
] + [Fusion("sum", w, depth=d) for d in (50, 100, 300) for w in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]


def load_beir(root: Path, split: str) -> tuple[dict[str, dict], dict[str, str], dict[str, dict[str, int]]]:
    corpus = {}
    with open(root / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                corpus[str(d["_id"])] = d
    queries = {}
    with open(root / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                q = json.loads(line)
                queries[str(q["_id"])] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(root / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
        for n, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or (n == 0 and not parts[2].lstrip("-").isdigit()):
                continue
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return corpus, queries, qrels


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int) -> float:
    relevant = {d for d, r in rels.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def write_docs(corpus: dict[str, dict], docs: Path) -> dict[str, str]:
    """One ``.txt`` per document (unchanged files are not rewritten); returns file stem -> id."""
    docs.mkdir(parents=True, exist_ok=True)
    stems = {}
    for n, (doc_id, d) in enumerate(corpus.items()):
        stem = f"d{n:07d}"
        stems[stem] = doc_id
        title = " ".join(str(d.get("title") or "").split())
        data = (f"{title}\n\n{d.get('text', '')}\n" if title else f"{d.get('text', '')}\n").encode("utf-8")
        path = docs / f"{stem}.txt"
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    return stems


def doc_ranking(doc_ids: list[str], stems: dict[str, str]) -> list[str]:
    """Documents in the order of their best passage (``doc_id`` is ``path#n``)."""
    ranked: dict[str, None] = {}
    for doc_id in doc_ids:
        doc = stems.get(Path(doc_id.rsplit("#", 1)[0]).stem)
        if doc is not None:
            ranked.setdefault(doc)
    return list(ranked)


def evaluate(
    idx: Index, judged: list[str], queries: dict[str, str], qrels: dict, stems: dict[str, str]
) -> dict[str, float]:
    """nDCG@10, recall@100 and query latency (k=20) of one open index over the judged queries."""
    ndcgs, recalls, times, cpu = [], [], [], []
    for qid in judged:
        idx.search(queries[qid], k=QUERY_K)
    for qid in judged:
        t0, c0 = time.perf_counter(), time.process_time()
        idx.search(queries[qid], k=QUERY_K)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        ranked = doc_ranking([p.doc_id for p in idx.search(queries[qid], k=PASSAGE_DEPTH)], stems)
        ndcgs.append(ndcg_at(ranked, qrels[qid], 10))
        recalls.append(recall_at(ranked, qrels[qid], 100))
    times.sort()
    return {
        "ndcg@10": statistics.fmean(ndcgs) if ndcgs else 0.0,
        "recall@100": statistics.fmean(recalls) if recalls else 0.0,
        "query_ms_p50": statistics.median(times) if times else 0.0,
        "query_ms_p95": times[min(len(times) - 1, int(0.95 * len(times)))] if times else 0.0,
        "query_cpu_ms_p50": statistics.median(cpu) if cpu else 0.0,
    }


def tune(
    idx: Index, judged: list[str], queries: dict[str, str], qrels: dict, stems: dict[str, str]
) -> list[tuple[Fusion, float, float]]:
    """(fusion, nDCG@10, recall@100) for every setting of ``TUNE_GRID``, from rankings retrieved once."""
    runs = []
    for qid in judged:
        lexical = [(p.doc_id, p.score) for p in Index._search(idx, queries[qid], PASSAGE_DEPTH)]
        runs.append((qid, lexical, idx.dense(" ".join(queries[qid].split()), PASSAGE_DEPTH)))
    out = []
    for fusion in TUNE_GRID:
        ndcgs, recalls = [], []
        for qid, lexical, dense in runs:
            fused = fusion.fuse(lexical[: fusion.depth], dense[: fusion.depth])
            ranked = doc_ranking([d for d, _ in fused], stems)
            ndcgs.append(ndcg_at(ranked, qrels[qid], 10))
            recalls.append(recall_at(ranked, qrels[qid], 100))
        out.append((fusion, statistics.fmean(ndcgs), statistics.fmean(recalls)))
    return out


def run(beir: Path, index: Path, docs: Path, split: str, modes: tuple[str, ...] = ("bm25",),
        tuning: bool = False) -> tuple[dict[str, dict[str, float]], list[tuple[Fusion, float, float]]]:
    """Build the index (and vectors when a mode needs them), re-index it unchanged, search in every mode;
    with ``tuning``, also (fusion, nDCG@10, recall@100) for every fusion setting of the grid."""
    corpus, queries, qrels = load_beir(beir, split)
    judged = [q for q in qrels if q in queries]
    stems = write_docs(corpus, docs)
    if index.exists():
        if not (index / VERSION_FILE).exists():
            raise SystemExit(f"{index} exists and is not a jupyter-warp index: choose another --index")
        shutil.rmtree(index)
    embed = tuning or any(m != "bm25" for m in modes)
    if embed:  # load the model first, so embed_passages_per_s is the embedding alone
        from jupyter_warp.corpus.embedding import load_embedder

        t0 = time.perf_counter()
        load_embedder()
        print(f"embedding model loaded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    built = build_index([docs], index, progress=False, embed=embed or None)
    again = build_index([docs], index, progress=False)
    print(f"{len(corpus)} documents, {len(judged)} judged queries; first build: {built}", file=sys.stderr)
    print(f"re-index: {again}", file=sys.stderr)
    whoosh_s = built.seconds - built.embed_seconds
    results: dict[str, dict[str, float]] = {}
    for mode in modes:
        with open_index(index, retrieval=mode) as idx:
            r = evaluate(idx, judged, queries, qrels, stems)
        r["index_docs_per_s"] = len(corpus) / whoosh_s if whoosh_s else 0.0
        r["index_passages_per_s"] = built.total_passages / whoosh_s if whoosh_s else 0.0
        if mode != "bm25":
            r["embed_passages_per_s"] = built.embedded / built.embed_seconds if built.embed_seconds else 0.0
        r["reindex_unchanged_s"] = again.seconds
        print(f"{mode}: query CPU time p50 {r['query_cpu_ms_p50']:.2f} ms "
              "(wall time includes waiting for a busy CPU)", file=sys.stderr)
        results[mode] = r
    tuned = []
    if tuning:
        with open_index(index, retrieval="hybrid") as idx:
            tuned = tune(idx, judged, queries, qrels, stems)
    return results, tuned


def parse_modes(text: str) -> tuple[str, ...]:
    modes = MODES if text == "all" else tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise argparse.ArgumentTypeError(
            f"unknown mode {', '.join(bad) or text!r}: use bm25, dense, hybrid, a comma list, or all")
    return modes


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="nDCG@10, recall@100 and speed of the corpus index on a BEIR set")
    ap.add_argument("beir", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    ap.add_argument("--index", type=Path, help="index folder (rebuilt); default: a temporary folder")
    ap.add_argument("--docs", type=Path, help="where the documents are written as files (default: beside the index)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--mode", type=parse_modes, default=("bm25",),
                    help="bm25 (default), dense, hybrid, a comma list, or all")
    ap.add_argument("--tune", action="store_true", help="also score every fusion setting of the grid")
    args = ap.parse_args(argv)
    tmp = None
    if args.index is None:
        tmp = Path(tempfile.mkdtemp(prefix="warp-bench-"))
        args.index = tmp / "index"
    docs = args.docs or args.index.with_name(args.index.name + "-docs")
    try:
        results, tuned = run(args.beir, args.index.resolve(), docs.resolve(), args.split, args.mode, args.tune)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.mode == ("bm25",):
        r = results["bm25"]
        for name in ("ndcg@10", "recall@100"):
            print(f"{name}: {r[name]:.4f}")
        print(f"index_docs_per_s: {r['index_docs_per_s']:.1f}")
        print(f"query_ms_p50: {r['query_ms_p50']:.2f}")
        print(f"query_ms_p95: {r['query_ms_p95']:.2f}")
        print(f"reindex_unchanged_s: {r['reindex_unchanged_s']:.3f}")
    else:
        print("mode: " + " ".join(args.mode))
        rows = (("ndcg@10", 4), ("recall@100", 4), ("index_passages_per_s", 1), ("embed_passages_per_s", 1),
                ("query_ms_p50", 2), ("query_ms_p95", 2), ("query_cpu_ms_p50", 2), ("reindex_unchanged_s", 3))
        for name, digits in rows:
            print(f"{name}: " + " ".join(_cell(results[m].get(name), digits) for m in args.mode))
    for fusion, ndcg, recall in tuned:
        print(f"fusion {fusion}: ndcg@10 {ndcg:.4f} recall@100 {recall:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
