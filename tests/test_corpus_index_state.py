"""An index that is empty, being built, killed mid-build, damaged or read-only: one line each, and `index` mends it."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import pytest

from corpus_files import SLOW_INDEXER, can_drop_root_read, many_files, run_python
from jupyter_warp.cli import main
from jupyter_warp.corpus import build_index, open_index
from jupyter_warp.errors import IndexDamagedError, IndexEmptyError


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def _rebuild(docs, index):
    """The index command the error names, as a regex."""
    return rf"jupyter-warp index {re.escape(str(docs))} --index {re.escape(str(index))}"


def test_empty_folder_gives_an_empty_index_that_says_so(tmp_path, capsys):
    empty, index = tmp_path / "empty", tmp_path / "index"
    empty.mkdir()
    assert build_index([empty], index, progress=False).total_passages == 0
    with pytest.raises(IndexEmptyError, match=rf"empty .*{_rebuild(empty, index)}"):
        open_index(index)
    assert main(["search", "okapi", "--index", str(index)]) == 2
    assert "is empty" in _one_line_error(capsys)
    replies = tmp_path / "replies.jsonl"
    search = '<thought>t</thought><action>{"name": "search", "keywords": ["okapi"]}</action>'
    replies.write_text(json.dumps({"reply": search}))
    run = ["run", "What about okapis?", "--index", str(index), "--model", f"replay:{replies}",
           "--run-dir", str(tmp_path / "r")]
    assert main([*run, "--quiet"]) == 2
    assert "is empty" in _one_line_error(capsys)


def test_search_during_first_build_then_after_kill_9(tmp_path, capsys):
    docs, index = tmp_path / "docs", tmp_path / "index"
    many_files(docs, 40)
    proc = run_python(SLOW_INDEXER, str(docs), str(index), "0.2", "cli", stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"started"
        with pytest.raises(IndexEmptyError, match="a build is still running"):
            open_index(index)
        assert main(["search", "platypus", "--index", str(index)]) == 2
        assert "wait for `jupyter-warp index` to finish" in _one_line_error(capsys)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with pytest.raises(IndexEmptyError, match=rf"incomplete .*interrupted.*{_rebuild(docs, index)}"):
        open_index(index)
    assert main(["search", "platypus", "--index", str(index)]) == 2
    assert "incomplete" in _one_line_error(capsys)

    assert main(["index", str(docs), "--index", str(index), "--quiet"]) == 0
    assert "40 added" in capsys.readouterr().out
    with open_index(index) as idx:
        assert len(idx.search("platypus", k=100)) == 40


def _truncate_toc(index: Path) -> None:
    (toc,) = index.glob("_MAIN_*.toc")
    toc.write_bytes(toc.read_bytes()[:50])


def _truncate_segment(index: Path) -> None:
    for seg in index.glob("MAIN_*.seg"):
        seg.write_bytes(seg.read_bytes()[: seg.stat().st_size // 2])


@pytest.mark.parametrize("damage", [_truncate_toc, _truncate_segment], ids=["toc", "segment"])
def test_damaged_index_says_so_and_index_rebuilds_it(tmp_path, capsys, damage):
    docs, index = tmp_path / "docs", tmp_path / "index"
    many_files(docs, 30)
    build_index([docs], index, progress=False)
    damage(index)
    with pytest.raises(IndexDamagedError, match=rf"damaged .*`{_rebuild(docs, index)}` to rebuild"):
        open_index(index)
    assert main(["search", "platypus", "--index", str(index)]) == 2
    assert "is damaged" in _one_line_error(capsys)

    assert main(["index", str(docs), "--index", str(index), "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"index {index} was damaged (") and out[0].endswith("rebuilt it from the files")
    assert "30 added" in out[1]
    with open_index(index) as idx:
        assert idx.doc_count() == 30 and len(idx.search("platypus", k=100)) == 30
    again = build_index([docs], index, progress=False)
    assert again.rebuilt == "" and again.unchanged == 30


@pytest.mark.skipif(not can_drop_root_read(), reason="running as root without setpriv")
def test_read_only_index_folder(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "index"
    many_files(docs, 5)
    build_index([docs], index, progress=False)
    (docs / "new.txt").write_text("New\n\nThe echidna arrives.\n")
    cli = "import sys\nfrom jupyter_warp.cli import main\nsys.exit(main(sys.argv[1:]))"
    paths = [index, *index.iterdir()]
    modes = {p: p.stat().st_mode for p in paths}
    for p in reversed(paths):
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        proc = run_python(cli, "index", str(docs), "--index", str(index), "--quiet", as_plain_user=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert f"cannot write to the index folder {index}" in err and "make it writable" in err
        proc = run_python(cli, "search", "platypus", "--index", str(index), "-k", "1", as_plain_user=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "platypus" in out, err  # what is indexed stays searchable
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    assert build_index([docs], index, progress=False).added == 1

