"""Build BEIR-layout test collections from the shared corpora (SciFact and co. are not offline).

    python bench/make_pep_beir.py OUT_DIR [--set peps|tldr] [--corpora ../shared/data/corpora]

``peps`` (about 5,000 documents): every top-level section of the 703 PEPs is a document
(title ``PEP N``, text = section heading and body); the ``Title:`` header is taken out of the
preamble. Queries are the PEP titles ("Assignment Expressions"); every section of that PEP
is relevant (grade 1). Copyright and References sections, and sections under 30 words, are
left out. This asks: find the material about this topic among near-domain text.

``tldr`` (1,538 documents): every tldr page minus its first task line; the query is that
task line ("List the contents of a tar file"), the page is the one relevant document (alias
pages, whose first task is "View documentation for the original command", are left out). This
asks: which page tells me how to do this, when the exact wording is gone.

Deterministic: the same corpora give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

DEFAULT_CORPORA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "corpora"
_UNDERLINE = re.compile(r"^(=+)\s*$")
_HEADER = re.compile(r"^([A-Za-z-]+):[ \t]*(.*(?:\n[ \t]+.*)*)", re.MULTILINE)
_SKIP_SECTIONS = {"copyright", "references", "footnotes", "acknowledgements", "acknowledgments"}
_WORD = re.compile(r"\w+")


def pep_sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The PEP's title and its (heading, body) top-level sections, preamble first."""
    lines = text.splitlines()
    cuts = [
        i - 1
        for i in range(1, len(lines))
        if _UNDERLINE.match(lines[i]) and lines[i - 1].strip() and len(lines[i].strip()) >= len(lines[i - 1].strip())
        and (i < 2 or not lines[i - 2].strip())
    ]
    preamble = "\n".join(lines[: cuts[0] if cuts else len(lines)])
    title = ""
    headers = []
    for m in _HEADER.finditer(preamble):
        if m.group(1) == "Title":
            title = " ".join(m.group(2).split())
        else:
            headers.append(m.group(0))
    sections = [("", "\n".join(headers))]
    for n, start in enumerate(cuts):
        end = cuts[n + 1] if n + 1 < len(cuts) else len(lines)
        sections.append((lines[start].strip(), "\n".join(lines[start + 2 : end]).strip()))
    return title, sections


def build_peps(corpora: Path) -> tuple[list[dict], list[dict], list[tuple[str, str, int]]]:
    corpus, queries, qrels = [], [], []
    for path in sorted((corpora / "python_peps").glob("pep-*.rst")):
        number = int(path.stem.split("-")[1])
        title, sections = pep_sections(path.read_text(encoding="utf-8"))
        ids = []
        for n, (heading, body) in enumerate(sections):
            if heading.lower() in _SKIP_SECTIONS or len(_WORD.findall(body)) < 30:
                continue
            doc_id = f"pep{number}-{n}"
            corpus.append({"_id": doc_id, "title": f"PEP {number}", "text": f"{heading}\n\n{body}".strip()})
            ids.append(doc_id)
        if title and ids:
            queries.append({"_id": f"q{number}", "text": title})
            qrels.extend((f"q{number}", doc_id, 1) for doc_id in ids)
    return corpus, queries, qrels


def build_tldr(corpora: Path) -> tuple[list[dict], list[dict], list[tuple[str, str, int]]]:
    corpus, queries, qrels = [], [], []
    for n, path in enumerate(sorted((corpora / "tldr_pages_en" / "pages").rglob("*.md"))):
        lines = path.read_text(encoding="utf-8").splitlines()
        task = next((i for i, line in enumerate(lines) if line.startswith("- ")), None)
        if task is None:
            continue
        query = lines[task][2:].strip().rstrip(":").strip()
        if len(_WORD.findall(query)) < 3 or query.startswith("View documentation for"):
            continue
        title = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("#") else path.stem
        body = "\n".join(lines[1:task] + lines[task + 1 :]).strip()
        doc_id, query_id = f"tldr{n}", f"t{n}"
        corpus.append({"_id": doc_id, "title": title, "text": body})
        queries.append({"_id": query_id, "text": query})
        qrels.append((query_id, doc_id, 1))
    return corpus, queries, qrels


def write_beir(out: Path, corpus: list[dict], queries: list[dict], qrels: list[tuple[str, str, int]]) -> None:
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in corpus)
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(q, ensure_ascii=False) + "\n" for q in queries)
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        f.writelines(f"{q}\t{d}\t{s}\n" for q, d, s in qrels)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--set", choices=["peps", "tldr"], default="peps")
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    args = ap.parse_args(argv)
    if not (args.corpora / "python_peps").is_dir():
        ap.error(f"no shared corpora at {args.corpora}: pass --corpora")
    corpus, queries, qrels = (build_peps if args.set == "peps" else build_tldr)(args.corpora.resolve())
    write_beir(args.out, corpus, queries, qrels)
    print(f"{args.out}: {len(corpus)} documents, {len(queries)} queries, {len(qrels)} judgements")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
