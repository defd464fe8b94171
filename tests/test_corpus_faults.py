"""Bad files, links out of the roots, permissions, kills, Ctrl-C and two indexers at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus_files import SLOW_INDEXER, can_drop_root_read, encrypt_pdf, make_pdf, many_files, run_python
from jupyter_warp.cli import main
from jupyter_warp.corpus import build_index, open_index
from jupyter_warp.errors import IndexEmptyError, IndexLockedError, IndexMissingError

_AUDIT: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _AUDIT is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _AUDIT.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def bad_folder(tmp_path) -> tuple[Path, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret\n\nThe password is swordfish.\n")
    (outside / "more.md").write_text("# More\n\nswordfish again\n")
    good = make_pdf(["Owner only PDF about lemurs"])
    (root / "ok.txt").write_text("Fine\n\nThe meerkat stands guard.\n")
    (root / "corrupt.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n%%EOF\n")
    (root / "truncated.pdf").write_bytes(make_pdf(["Cut short"])[:150])
    (root / "encrypted.pdf").write_bytes(encrypt_pdf(make_pdf(["Hidden text"]), "secret"))
    (root / "owner_only.pdf").write_bytes(encrypt_pdf(good, ""))
    (root / "scanned.pdf").write_bytes(make_pdf([""]))
    (root / "binary.txt").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    (root / "latin1.txt").write_bytes("Café notes\n\nThe café serves crêpes to the okapi.\n".encode("latin-1"))
    (root / "empty.md").write_bytes(b"")
    (root / "blank.txt").write_text("   \n\n \t\n")
    with open(root / "huge.txt", "wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: 200 MB on paper, nothing on disk
    os.mkfifo(root / "fifo.txt")
    os.symlink(root / "loop_b.txt", root / "loop_a.txt")
    os.symlink(root / "loop_a.txt", root / "loop_b.txt")
    (root / "sub").mkdir()
    os.symlink(root, root / "sub" / "back_to_root")
    os.symlink(root / "ok.txt", root / "alias.txt")  # inside the root: indexed once, as ok.txt
    os.symlink(outside / "secret.txt", root / "outside.txt")
    os.symlink(outside, root / "outside_dir")
    os.symlink(root / "does_not_exist.txt", root / "dangling.txt")
    (root / "bad.ipynb").write_text("{ not json")
    (root / "bad.docx").write_bytes(b"PK\x03\x04 not a real zip")
    (root / "nested.html").write_text("<div>" * 3000 + "deeply nested wombat" + "</div>" * 3000)
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "h.txt").write_text("hidden\n\nnever indexed\n")
    return root, outside


def test_bad_inputs_are_skipped_with_reasons(bad_folder, tmp_path):
    global _AUDIT
    root, outside = bad_folder
    _AUDIT = []
    try:
        summary = build_index([root], tmp_path / "index", progress=False)
    finally:
        opened, _AUDIT = _AUDIT, None
    reasons = {Path(p).name: r for p, r in summary.skipped_reasons}
    expected = {
        "corrupt.pdf": "corrupt PDF",
        "truncated.pdf": "corrupt PDF",
        "encrypted.pdf": "encrypted PDF",
        "scanned.pdf": "no text layer",
        "binary.txt": "binary file",
        "empty.md": "empty file",
        "blank.txt": "no text",
        "huge.txt": "too large",
        "fifo.txt": "not a regular file",
        "loop_a.txt": "symlink loop",
        "loop_b.txt": "symlink loop",
        "back_to_root": "symlink loop",
        "outside.txt": "outside the indexed folders",
        "outside_dir": "outside the indexed folders",
        "dangling.txt": "broken link",
        "bad.ipynb": "not a valid notebook",
        "bad.docx": "unreadable DOCX",
    }
    for name, reason in expected.items():
        assert reason in reasons.get(name, ""), (name, reasons.get(name))
    assert set(reasons) == set(expected), set(reasons) ^ set(expected)
    assert summary.added == 4 and summary.skipped == len(expected)
    assert any("Windows-1252" in note for _, note in summary.notes)
    assert not [p for p in opened if Path(p).resolve().is_relative_to(outside)]
    with open_index(tmp_path / "index") as idx:
        assert idx.search("swordfish") == [] and idx.search("hidden") == []
        assert [Path(p.path).name for p in idx.search("meerkat")] == ["ok.txt"]
        assert idx.search("lemurs") and idx.search("wombat")
        assert idx.search("crêpes")[0].path.endswith("latin1.txt")

    again = build_index([root], tmp_path / "index", progress=False)
    assert again.unchanged == 4 and again.added == again.updated == 0
    assert {Path(p).name for p, _ in again.skipped_reasons} == set(expected)


def test_file_that_turns_bad_is_removed(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text("A\n\nThe quoll hunts.\n")
    build_index([root], tmp_path / "index", progress=False)
    (root / "a.txt").write_bytes(b"\x00\x00 now binary")
    summary = build_index([root], tmp_path / "index", progress=False)
    assert summary.updated == 0 and summary.skipped == 1 and summary.total_passages == 0
    with pytest.raises(IndexEmptyError, match="all 1 of its 1 files were skipped"):
        open_index(tmp_path / "index")


def test_size_limit_is_configurable(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "big.txt").write_text("word " * 100_000)
    summary = build_index([tmp_path / "r"], tmp_path / "index", progress=False, max_file_mb=0.1)
    assert "too large" in summary.skipped_reasons[0][1]


@pytest.mark.skipif(not can_drop_root_read(), reason="running as root without setpriv")
def test_unreadable_file_is_skipped(tmp_path):
    """Root reads any file, so as root the indexer runs without the capabilities that allow it."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "open.txt").write_text("Open\n\nThe dingo howls.\n")
    (root / "locked.txt").write_text("Locked\n\nThe numbat hides.\n")
    (root / "closed").mkdir()
    (root / "closed" / "x.txt").write_text("x\n\nnothing\n")
    (root / "locked.txt").chmod(0o000)
    (root / "closed").chmod(0o000)
    code = (
        "import json, sys\nfrom jupyter_warp.corpus import build_index\n"
        "s = build_index([sys.argv[1]], sys.argv[2], progress=False)\n"
        "print(json.dumps({'added': s.added, 'skipped': s.skipped_reasons}))"
    )
    try:
        proc = run_python(
            code, str(root), str(tmp_path / "index"), as_plain_user=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = proc.communicate(timeout=60)
    finally:
        (root / "closed").chmod(0o755)
        (root / "locked.txt").chmod(0o644)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)
    reasons = {Path(p).name: r for p, r in result["skipped"]}
    assert result["added"] == 1
    assert reasons["locked.txt"] == "permission denied"
    assert "cannot list folder" in reasons["closed"]


def _count(index: Path) -> int:
    try:
        with open_index(index) as idx:
            return idx.doc_count()
    except IndexMissingError:
        return 0


def test_killed_run_leaves_a_usable_index(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "index"
    many_files(docs, 300)
    proc = run_python(SLOW_INDEXER, str(docs), str(index), "0.02", "40", stdout=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _count(index) < 40 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done = _count(index)
    assert 40 <= done < 300
    summary = build_index([docs], index, progress=False)
    assert summary.added == 300 - done and summary.unchanged == done
    with open_index(index) as idx:
        assert idx.doc_count() == 300 and len(idx.search("platypus", k=500)) == 300


def test_ctrl_c_commits_what_is_done(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "index"
    many_files(docs, 200)
    proc = run_python(SLOW_INDEXER, str(docs), str(index), "0.02", "cli",
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"interrupted" in err, err
    done = _count(index)
    assert 0 < done < 200
    summary = build_index([docs], index, progress=False)
    assert summary.added == 200 - done
    with open_index(index) as idx:
        assert idx.doc_count() == 200


def test_second_indexer_waits_then_fails_clearly(tmp_path, capsys):
    docs, index = tmp_path / "docs", tmp_path / "index"
    many_files(docs, 60)
    proc = run_python(SLOW_INDEXER, str(docs), str(index), "0.1", "20", stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"started"
        with pytest.raises(IndexLockedError, match="another process is updating"):
            build_index([docs], index, progress=False, lock_timeout=0.3)
        assert main(["index", str(docs), "--index", str(index), "--quiet"]) == 2
        assert "another process is updating the index" in capsys.readouterr().err
        with open_index(index) as idx:  # readers are never blocked
            idx.search("platypus")
        assert proc.stdout.readline().split() == [b"done", b"60"]
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    summary = build_index([docs], index, progress=False)
    assert summary.unchanged == 60 and summary.total_passages == 60
    with open_index(index) as idx:
        assert idx.doc_count() == 60
