"""Retrieval quality and speed of the local corpus index on a BEIR-layout test collection.

    python bench/retrieval.py BEIR_DIR [--index DIR] [--split test]

BEIR_DIR holds ``corpus.jsonl`` ({_id, title, text}), ``queries.jsonl`` ({_id, text}) and
``qrels/<split>.tsv``. Each document becomes a text file (title on the first line), the
files are indexed with ``build_index`` exactly as a user's folder would be, re-indexed once
unchanged, then every judged query is searched. A document's score is its best passage's
(documents longer than a passage are cut). Prints exactly these lines on stdout:

    ndcg@10: X  recall@100: Y  index_docs_per_s: Z  query_ms_p50: A  query_ms_p95: B
    reindex_unchanged_s: C

(one per line); details go to stderr. nDCG uses trec_eval's linear gain, as BEIR does.
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

from jupyter_warp.corpus import build_index, open_index  # noqa: E402
from jupyter_warp.corpus.store import VERSION_FILE  # noqa: E402

PASSAGE_DEPTH = 300
"""Passages fetched per query to rank 100 documents."""


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


def run(beir: Path, index: Path, docs: Path, split: str) -> dict[str, float]:
    corpus, queries, qrels = load_beir(beir, split)
    judged = [q for q in qrels if q in queries]
    stems = write_docs(corpus, docs)
    if index.exists():
        if not (index / VERSION_FILE).exists():
            raise SystemExit(f"{index} exists and is not a jupyter-warp index: choose another --index")
        shutil.rmtree(index)
    built = build_index([docs], index, progress=False)
    again = build_index([docs], index, progress=False)
    print(f"{len(corpus)} documents, {len(judged)} judged queries; first build: {built}", file=sys.stderr)
    print(f"re-index: {again}", file=sys.stderr)
    ndcgs, recalls, times, cpu = [], [], [], []
    with open_index(index) as idx:
        for qid in judged:
            idx.search(queries[qid], k=10)
        for qid in judged:
            t0, c0 = time.perf_counter(), time.process_time()
            idx.search(queries[qid], k=10)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            best: dict[str, float] = {}
            for p in idx.search(queries[qid], k=PASSAGE_DEPTH):
                doc = stems.get(Path(p.path).stem)
                if doc is not None and doc not in best:
                    best[doc] = p.score
            ranked = list(best)
            ndcgs.append(ndcg_at(ranked, qrels[qid], 10))
            recalls.append(recall_at(ranked, qrels[qid], 100))
    times.sort()
    if cpu:
        print(f"query CPU time p50 {statistics.median(cpu):.2f} ms (wall time includes waiting for a busy CPU)", file=sys.stderr)
    return {
        "ndcg@10": statistics.fmean(ndcgs) if ndcgs else 0.0,
        "recall@100": statistics.fmean(recalls) if recalls else 0.0,
        "index_docs_per_s": len(corpus) / built.seconds if built.seconds else 0.0,
        "query_ms_p50": statistics.median(times) if times else 0.0,
        "query_ms_p95": times[min(len(times) - 1, int(0.95 * len(times)))] if times else 0.0,
        "reindex_unchanged_s": again.seconds,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="nDCG@10, recall@100 and speed of the corpus index on a BEIR set")
    ap.add_argument("beir", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    ap.add_argument("--index", type=Path, help="index folder (rebuilt); default: a temporary folder")
    ap.add_argument("--docs", type=Path, help="where the documents are written as files (default: beside the index)")
    ap.add_argument("--split", default="test")
    args = ap.parse_args(argv)
    tmp = None
    if args.index is None:
        tmp = Path(tempfile.mkdtemp(prefix="warp-bench-"))
        args.index = tmp / "index"
    docs = args.docs or args.index.with_name(args.index.name + "-docs")
    try:
        results = run(args.beir, args.index.resolve(), docs.resolve(), args.split)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    for name in ("ndcg@10", "recall@100"):
        print(f"{name}: {results[name]:.4f}")
    print(f"index_docs_per_s: {results['index_docs_per_s']:.1f}")
    print(f"query_ms_p50: {results['query_ms_p50']:.2f}")
    print(f"query_ms_p95: {results['query_ms_p95']:.2f}")
    print(f"reindex_unchanged_s: {results['reindex_unchanged_s']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
