"""``jupyter-warp eval`` from the command line, the notebook view, and what bad input gets."""

import json
from pathlib import Path

import pytest

from eval_fixtures import clean_script, make_run
from jupyter_warp.cli import main
from jupyter_warp.evaluate import evaluate, load_source
from jupyter_warp.evaluate.compare import MAX_COLUMNS, columns, comparison
from jupyter_warp.llm.registry import registry as backends
from scripted import ScriptedBackend

SAMPLE = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "deep_research_bench" / "eval_sample")
PEERS = f"{SAMPLE}/peer_reports.jsonl"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    make_run(root / "q1" / "run")
    make_run(root / "q2" / "run", clean_script())
    return root


def test_eval_runs_and_submissions_side_by_side(capsys, runs, tmp_path):
    out = tmp_path / "eval.json"
    code, text, _ = run_cli(capsys, "eval", runs / "q1" / "run", PEERS, "--out", out, "--quiet")
    assert code == 0
    header = text.splitlines()[0]
    assert "peer_reports:1" in header and "peer_reports:58" in header
    assert "supported_share" in text and "copied from the prompts" in text
    data = json.loads(out.read_text())
    assert [r["report"]["kind"] for r in data["reports"]] == ["run", "submission", "submission"]
    assert data["reports"][0]["sections"][0]["position"] == "section-1"
    assert data["judge"] is None and data["judgements"] == []

    code, text, _ = run_cli(capsys, "eval", runs, "--json")
    table = json.loads(text)
    assert code == 0 and len(table["columns"]) == 2 and table["rows"]["repeated_paragraphs"] == [1, 0]


def test_a_folder_of_runs_and_many_reports_average_by_group(runs):
    records = load_source(runs)
    assert len(records) == 2 and {r.group for r in records} == {runs.name}
    many = records * 3 + load_source(PEERS) * 2
    labels, values = columns(evaluate(many))
    assert len(many) > MAX_COLUMNS and labels == [f"{runs.name} (mean of 6)", "peer_reports (mean of 4)"]
    assert values[0]["repeated_paragraphs"] == pytest.approx(0.5)


def test_eval_with_a_judge_spec(capsys, runs, tmp_path, monkeypatch):
    backend = ScriptedBackend(lambda r: '{"verdict": "supported"}')
    monkeypatch.setitem(backends._factories, "evaljudge", lambda target, **options: backend)
    code, text, _ = run_cli(capsys, "eval", runs / "q2" / "run", "--judge", "evaljudge", "--out", tmp_path / "e.json",
                            "--quiet")
    assert code == 0 and "fact_accuracy" in text and "judge scripted: 3 judgements" in text
    data = json.loads((tmp_path / "e.json").read_text())
    assert data["reports"][0]["fact"]["accuracy"] == 1.0
    assert [j["reply"] for j in data["judgements"]] == ['{"verdict": "supported"}'] * 3
    assert all("Statement:" in j["prompt"] for j in data["judgements"])


def test_a_dead_judge_keeps_the_measurements(capsys, runs, tmp_path, monkeypatch):
    from jupyter_warp.errors import BackendUnavailableError

    class Dead(ScriptedBackend):
        def generate(self, requests):
            raise BackendUnavailableError("model server at http://127.0.0.1:9 did not answer")

    monkeypatch.setitem(backends._factories, "deadjudge", lambda target, **options: Dead(str))
    code, _, err = run_cli(capsys, "eval", runs / "q1" / "run", "--judge", "deadjudge", "--out", tmp_path / "e.json",
                           "--quiet")
    assert code == 1 and "did not answer" in err and "e.json" in err
    data = json.loads((tmp_path / "e.json").read_text())
    assert data["incomplete"] and data["reports"][0]["metrics"]["repeated_paragraphs"] == 1


@pytest.mark.parametrize("args,message", [
    (["eval", "/no/such/run"], "no run or report at /no/such/run"),
    (["eval", PEERS, "--criteria", f"{SAMPLE}/criteria.jsonl", "--judge", "x"], "give --reference FILE"),
    (["eval", PEERS, "--pairwise", "--judge", "x"], "exactly two sources"),
    (["eval", PEERS, "--pairwise"], "need a judge"),
    (["eval", PEERS, "--threshold", "2"], "threshold must be above 0"),
    (["eval", PEERS, "--judge", "nosuchbackend"], "unknown backend 'nosuchbackend'"),
    (["export", PEERS, "--out", "/tmp/x.jsonl"], "export reads run directories"),
])
def test_bad_arguments(capsys, args, message):
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_malformed_submission_file(capsys, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "prompt": "q", "article": "a"}\n{not json\n')
    code, _, err = run_cli(capsys, "eval", bad)
    assert code == 2 and f"{bad}:2: not JSON" in err
    bad.write_text('{"id": 1, "prompt": "q"}\n')
    code, _, err = run_cli(capsys, "eval", bad)
    assert code == 2 and "lacks article" in err


def test_notebook_view_escapes_and_plots(runs):
    records = load_source(runs / "q1" / "run")
    records[0].sections[0].title = "<script>alert(1)</script>"
    records[0].id = "<b>run</b>"
    result = evaluate(records + load_source(PEERS))
    from kernel_magics.evaluation import EvalView

    bundle = EvalView(result)._repr_mimebundle_()
    html = bundle["text/html"]
    assert "<script>" not in html and "&lt;b&gt;run&lt;/b&gt;" in html
    assert html.count("<svg") == 2  # the metric bars and the one run's step timeline
    assert "supported_share" in html and html.count("<title>step ") == len(records[0].steps)
    assert bundle["text/plain"].startswith("metric")
    assert comparison(result)["columns"][1] == "peer_reports:1"


def test_warp_eval_magic_and_warp_evaluate(runs, tmp_path, monkeypatch):
    """The notebook side: ``%warp_eval`` shows the view; ``warp.evaluate()`` scores a run beside others."""
    import kernel_magics
    from jupyter_warp.runs import Run
    from kernel_magics.result import WarpResult
    from test_magics_support import bundles, get_shell, run

    monkeypatch.chdir(tmp_path)
    sh = get_shell()
    kernel_magics.load_ipython_extension(sh)
    try:
        result, cap = run(sh, f"%warp_eval {runs / 'q1' / 'run'} {PEERS} --quiet --out {tmp_path / 'e.json'}")
        assert result.error_in_exec is None, cap.stdout
        [view] = [b for b in bundles(cap) if "text/html" in b]
        assert "<svg" in view["text/html"] and view["text/plain"].startswith("metric")
        assert (tmp_path / "e.json").is_file()
        _, cap = run(sh, "%warp_eval")
        assert "name the runs to score" in cap.stdout + cap.stderr
        view = WarpResult(Run.load(runs / "q1" / "run")).evaluate(PEERS, progress=False)
        assert "citation_validity" in view.html() and view.result.reports[0].record.kind == "run"
        # An EvalResult left as a cell's value shows as the same view.
        data, _ = sh.display_formatter.format(view.result)
        assert "<svg" in data["text/html"] and data["text/plain"].startswith("metric")
    finally:
        kernel_magics.unload_ipython_extension(sh)
