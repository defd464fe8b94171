"""Bad input through the command line: one line that says what to do, exit status 2."""

import pytest

from jupyter_warp.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_empty_question(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "  ", "--index", str(tmp_path))
    assert code == 2 and err.strip().startswith("error: the research question is empty")
    assert len(err.strip().splitlines()) == 1


def test_missing_index(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "a question", "--index", str(tmp_path / "nope"),
                           "--run-dir", str(tmp_path / "r"))
    assert code == 2 and "no index at" in err and "jupyter-warp index" in err
    assert not (tmp_path / "r").exists()  # checked before a run exists: the same command works once the index does


def test_unknown_model_spec(capsys, tmp_path):
    from jupyter_warp.corpus import build_index

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.md").write_text("# A\n\nSome text about alpha.\n")
    build_index([tmp_path / "d"], tmp_path / "ix", progress=False)
    code, _, err = run_cli(capsys, "run", "a question", "--index", str(tmp_path / "ix"), "--model", "nosuch:thing",
                           "--run-dir", str(tmp_path / "r"), "--quiet")
    assert code == 2 and "nosuch" in err and "smollm2" in err
    assert not (tmp_path / "r").exists()
    code, _, err = run_cli(capsys, "run", "a question", "--index", str(tmp_path / "ix"), "--model",
                           "replay:/no/such/file.jsonl", "--run-dir", str(tmp_path / "r"), "--quiet")
    assert code == 2 and "replay" in err and (tmp_path / "r" / "state.json").is_file()
    code, _, err = run_cli(capsys, "run", "--resume", str(tmp_path / "r"), "--model", "replay:/no/such/file.jsonl",
                           "--quiet")
    assert code == 2 and "replay" in err


@pytest.mark.parametrize("args,message", [
    (["run", "q", "--set", "nonsense=1"], "unknown setting 'nonsense'"),
    (["run", "q", "--set", "k=many"], "--set k=many: expected int"),
    (["run", "q", "--set", "k"], "use KEY=VALUE"),
    (["run", "q", "--max-steps", "0"], "max_steps must be at least 1"),
    (["run", "--resume", "/no/such/run"], "no run at /no/such/run"),
    (["run", "q", "--resume", "/x"], "either a QUESTION or --resume"),
    (["batch", "/no/such.jsonl"], "no questions file"),
])
def test_bad_arguments(capsys, args, message):
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
