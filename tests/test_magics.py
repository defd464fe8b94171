"""The magics through a real InteractiveShell: parsing, one-line errors, traitlets config,
streaming runs, resume, indexing. The model is scripted; the corpus is real where it matters."""

from __future__ import annotations

import json
import time
from dataclasses import fields
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

import kernel_magics
from jupyter_warp.config import WarpConfig
from jupyter_warp.errors import BackendUnavailableError, ConfigError
from jupyter_warp.mime import CELLS_MIME, OUTLINE_MIME
from kernel_magics import parsers
from kernel_magics.magics import CONFIG_FIELDS, Warp
from kernel_magics.result import WarpResult
from kernel_magics.views import SPINNER, short_number
from scripted import MemorySearcher, ScriptedBackend
from test_magics_support import final_outputs, get_shell, question_script, run, updates

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A shell with the extension freshly loaded, a scripted model and an in-memory corpus."""
    monkeypatch.chdir(tmp_path)
    sh = get_shell()
    sh.config.pop("Warp", None)  # %config keeps every setting in the shell's config, even rejected ones
    kernel_magics.load_ipython_extension(sh)
    magics = sh.magics_manager.registry["Warp"]
    magics.backend_factory = lambda spec: ScriptedBackend(question_script())
    magics.searcher_factory = lambda index: MemorySearcher()
    for name in ("warp", "res"):
        sh.user_ns.pop(name, None)
    yield sh
    kernel_magics.unload_ipython_extension(sh)


def magics_of(sh) -> Warp:
    return sh.magics_manager.registry["Warp"]


def one_line_error(cap, kind: str) -> str:
    text = cap.stdout + cap.stderr
    assert "Traceback" not in text and "----" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and lines[-1].startswith(f"{kind}: "), text
    return lines[-1]


# Configuration.
def test_traits_mirror_warpconfig():
    traits = Warp.class_traits(config=True)
    assert set(CONFIG_FIELDS) == {f.name for f in fields(WarpConfig)}
    assert set(traits) == set(CONFIG_FIELDS) | {"runs_dir"}
    defaults = WarpConfig()
    for f in fields(WarpConfig):
        trait = traits[f.name]
        assert trait.default() == getattr(defaults, f.name), f.name
        assert trait.help, f"Warp.{f.name} has no help"
        kind = type(trait).__name__
        expected = {"str": "Unicode", "int": "Int", "float": "Float", "bool": "Bool", "dict[str,": "Dict"}[
            str(f.type).split(" ")[0]]
        assert kind == expected, (f.name, kind, f.type)
        assert trait.allow_none == ("None" in str(f.type)), f.name


def test_config_magic_sets_validates_and_feeds_the_run(shell, caplog):
    _, cap = run(shell, "%config Warp.max_steps = 80\n%config Warp.k = 4")
    m = magics_of(shell)
    assert (m.max_steps, m.k) == (80, 4)
    _, cap = run(shell, "%config Warp.max_steps = 0")
    assert m.max_steps == 80
    # %config logs a failed update as one error line.
    assert "Warp.max_steps = 0: max_steps must be at least 1, got 0" in caplog.text
    assert "Traceback" not in cap.stdout + cap.stderr + caplog.text
    with pytest.raises(Exception, match="top_p must be above 0"):
        m.top_p = 0.0
    _, cap = run(shell, "%config Warp")
    assert "max_extends" in cap.stdout and "deepening rounds at most" in cap.stdout

    run(shell, "%%warp --max-extends 0\nWhat is alpha?")
    config = shell.user_ns["warp"].run.state.config
    assert (config.max_steps, config.k, config.max_extends) == (80, 4, 0)


def test_a_bad_saved_setting_does_not_break_loading(shell, capsys):
    shell.config.Warp.max_steps = 0
    shell.config.Warp.k = 7
    kernel_magics.load_ipython_extension(shell)
    m = magics_of(shell)
    assert (m.max_steps, m.k) == (140, 7)
    assert "ignored a setting: Warp.max_steps = 0" in capsys.readouterr().out


def test_config_file_settings_apply_at_load(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sh = get_shell()
    saved = sh.config
    sh.config = Config({"Warp": {"max_steps": 33, "model": "replay:x.jsonl"}})
    try:
        kernel_magics.load_ipython_extension(sh)
        m = magics_of(sh)
        assert (m.max_steps, m.model) == (33, "replay:x.jsonl")
    finally:
        sh.config = saved
        kernel_magics.unload_ipython_extension(sh)


# Parsing and errors.
def test_parse_warp_flags():
    args = parsers.parse_warp("--model replay:r.jsonl --index idx --max-steps 12 --max-extends 0 --step --cells "
                              "--out 'my report.ipynb' --name res --set k=5 --no-grammar --run-dir runs/a", "  Why?\n")
    settings = {"model": "replay:r.jsonl", "index": "idx", "max_steps": 12, "max_extends": 0, "k": 5,
                "constrained": "off"}
    assert args == parsers.WarpArgs(question="Why?", settings=settings, step=True, cells=True,
                                    out=["my report.ipynb"], name="res", run_dir="runs/a")
    plain = parsers.parse_warp("", "Q")
    assert (plain.name, plain.step, plain.cells, plain.settings) == ("warp", False, False, {})
    resumed = parsers.parse_resume("some/dir --max-steps 9")
    assert (resumed.run_dir, resumed.step, resumed.settings) == ("some/dir", True, {"max_steps": 9})
    # Every setting has its flag, generated from WarpConfig with its help.
    help_text = parsers.warp_parser().format_help()
    for f in fields(WarpConfig):
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        assert flag in help_text, flag
    assert parsers.parse_resume("d --run").step is False
    assert parsers.parse_index("a b --index i") == parsers.IndexArgs(paths=["a", "b"], index="i")
    assert parsers.parse_step("3 --name res") == parsers.StepArgs(n=3, name="res")


@pytest.mark.parametrize("line, cell, message", [
    ("--bogus", "Q", "unrecognized arguments: --bogus"),
    ("--max-steps ten", "Q", "max_steps=ten: expected int"),
    ("--name 2x", "Q", "is not a Python variable name"),
    ("--name class", "Q", "is not a Python variable name"),
    ("--max-st 5", "Q", "unrecognized arguments"),
    ("", "   \n  ", "the research question is empty"),
    ("--set nosuch=1", "Q", "unknown setting 'nosuch'"),
    ("--max-steps 0", "Q", "max_steps must be at least 1"),
    ("--out 'unclosed", "Q", "cannot read the arguments"),
])
def test_bad_cells_fail_with_one_line(shell, line, cell, message):
    result, cap = run(shell, f"%%warp {line}\n{cell}")
    assert isinstance(result.error_in_exec, ConfigError)
    assert message in one_line_error(cap, "ConfigError")
    assert "warp" not in shell.user_ns
    assert not list(Path(".warp/runs").glob("*"))


def test_missing_index_is_one_line(shell, tmp_path):
    magics_of(shell).searcher_factory = None  # the real corpus
    result, cap = run(shell, f"%%warp --index {tmp_path / 'nowhere'}\nWhat is alpha?")
    line = one_line_error(cap, "IndexMissingError")
    assert "no index at" in line and "jupyter-warp index" in line
    assert not (tmp_path / ".warp" / "runs").exists()


def test_help_prints_usage_and_no_error(shell):
    result, cap = run(shell, "%%warp -h\nQ")
    assert result.error_in_exec is None
    assert "--max-extends" in cap.stdout and "--cells" in cap.stdout
    assert "--step" in Warp.warp.__doc__


def test_other_magics_errors(shell):
    _, cap = run(shell, "%warp_index")
    assert "name the folders" in one_line_error(cap, "ConfigError")
    _, cap = run(shell, "%warp_resume nowhere/run")
    assert "no run at nowhere/run" in one_line_error(cap, "RunError")
    _, cap = run(shell, "%warp_step")
    assert "no step-through controller" in one_line_error(cap, "ConfigError")
    _, cap = run(shell, "%warp_step 0")
    assert "N must be at least 1" in one_line_error(cap, "ConfigError")


# Running.
def test_streaming_run_updates_in_place_and_binds_the_result(shell):
    specs = []
    magics_of(shell).backend_factory = lambda spec: specs.append(spec) or ScriptedBackend(question_script())
    result, cap = run(shell, "%%warp --model replay:canned.jsonl --max-extends 0 --name res\nWhat is alpha?")
    assert result.error_in_exec is None, cap.stdout
    assert specs == ["replay:canned.jsonl"]
    res = shell.user_ns["res"]
    assert isinstance(res, WarpResult) and res.run.done and res.report.sections
    assert [s.index for s in res.steps] == list(range(1, res.run.state.step + 1))

    # The cell ends as the static outline (final status) and one line, and no widget view.
    final = final_outputs(cap)
    assert not any(WIDGET_MIME in o for o in final)
    outline, progress = final[0], final[1]
    assert outline[OUTLINE_MIME]["status"] == "done" and outline[OUTLINE_MIME]["step"] == res.run.state.step
    assert outline[OUTLINE_MIME]["nodes"][0]["status"] == "written"
    assert "text/html" in outline and "text/markdown" in outline
    assert outline["text/plain"].splitlines()[2] == "  1 Part 1 — written, 2 citations"
    assert progress["text/plain"] == (f"done · step {res.run.state.step}/140 · 3/3 sections written · 4 searches · "
                                      f"0 extends · tokens {short_number(res.run.state.counters['tokens_in'])}/56 · "
                                      f"{res.run.state.wall_s:.1f} s · {res.run.state.stop_reason}")
    # The outline was replaced after every step, in the shared wording.
    outlines = [u for u in updates(cap) if OUTLINE_MIME in u]
    assert [o[OUTLINE_MIME]["step"] for o in outlines] == list(range(1, res.run.state.step + 1))
    lines = [u["text/plain"] for u in updates(cap) if OUTLINE_MIME not in u]
    assert any(line.startswith("searching for 1 · step 2/140 · 0/3 sections written · 1 search · 0 extends · tokens ")
               for line in lines), lines
    # Status lines are updates of one display, not a wall of prints.
    assert "step 3/" not in cap.stdout


def test_progress_says_loading_then_ticks_during_a_step(shell):
    class Slow(ScriptedBackend):
        def generate(self, requests):
            time.sleep(1.3)
            return super().generate(requests)

    def factory(spec):
        time.sleep(1.2)  # a model that takes a while to load
        return Slow(question_script())

    magics_of(shell).backend_factory = factory
    result, cap = run(shell, "%%warp --max-steps 2 --name slow\nWhat is alpha?")
    assert result.error_in_exec is None, cap.stdout
    lines = [u["text/plain"] for u in updates(cap) if OUTLINE_MIME not in u]
    loading = [line for line in lines if "loading model smollm2 · " in line]
    assert loading and loading[0][0] in SPINNER, lines
    ticks = [line for line in lines if line.split(" ")[0] in SPINNER and " searching · " in line]
    assert len({line[0] for line in ticks}) >= 2, lines  # the spinner turned during the first step
    assert any(line.endswith(" 1 s · step 0/2 · 0/0 sections written · 0 searches · 0 extends · tokens 0/0")
               for line in ticks), lines
    assert lines.index(loading[0]) < lines.index(ticks[0])
    # The second run reuses the loaded model: no loading line.
    result, cap = run(shell, "%%warp --max-steps 1 --name again\nWhat is beta?")
    assert not any("loading model" in u["text/plain"] for u in updates(cap) if OUTLINE_MIME not in u)


def test_progress_counts_rejected_replies_and_fallbacks(shell):
    def script(request):
        if "You are the writer" in request.prompt:
            return "<thought>x</thought><action>too short</action>"  # rejected, then the section is skipped
        return question_script()(request)

    magics_of(shell).backend_factory = lambda spec: ScriptedBackend(script)
    result, cap = run(shell, "%%warp --max-extends 0 --max-steps 10 --set max_retries=2\nWhat is alpha?")
    assert result.error_in_exec is None, cap.stdout
    run_ = shell.user_ns["warp"].run
    rejected = run_.state.counters["failed_steps"]
    fallbacks = sum(1 for s in run_.steps if s.fallback)
    assert rejected >= 2 and fallbacks >= 1
    lines = [u["text/plain"] for u in updates(cap) if OUTLINE_MIME not in u]
    assert any(line.endswith(f" · {rejected} rejected · {fallbacks} fallback{'s' if fallbacks > 1 else ''}")
               for line in lines), lines


def test_interrupt_stops_the_run_and_the_outline_says_stopped(shell):
    class Interrupted(ScriptedBackend):
        def generate(self, requests):
            if self.calls == 3:
                raise KeyboardInterrupt
            return super().generate(requests)

    magics_of(shell).backend_factory = lambda spec: Interrupted(question_script())
    result, cap = run(shell, "%%warp --max-extends 0 --run-dir runs/int\nWhat is alpha?")
    assert result.error_in_exec is None, cap.stdout
    final = final_outputs(cap)
    assert final[0][OUTLINE_MIME]["status"] == "stopped" and final[0][OUTLINE_MIME]["step"] == 3
    assert final[1]["text/plain"].startswith("interrupted: the run is saved: continue it with `%warp_resume runs/int`")
    assert "\nstopped · step 3/140 · " in final[1]["text/plain"]
    assert final[1]["text/plain"].endswith(" s · interrupted by the user")
    assert not any(WIDGET_MIME in o for o in final)


def test_per_cell_flags_override_traits_and_out_writes_a_notebook(shell, tmp_path):
    run(shell, "%config Warp.max_steps = 3\n%config Warp.index = 'idx-from-config'")
    result, cap = run(shell, "%%warp --max-steps 40 --max-extends 0 --out out/report.ipynb\nWhat is alpha?")
    assert result.error_in_exec is None
    config = shell.user_ns["warp"].run.state.config
    assert (config.max_steps, config.index) == (40, "idx-from-config")
    nb = nbformat.read(tmp_path / "out" / "report.ipynb", as_version=4)
    nbformat.validate(nb)
    assert len(nb.cells) == len(shell.user_ns["warp"].report.sections) + 1
    assert final_outputs(cap)[1]["text/plain"].startswith("report saved to out/report.ipynb\ndone · step ")


def test_cells_headless_emit_the_report_output(shell):
    result, cap = run(shell, "%%warp --max-extends 0 --cells\nWhat is alpha?")
    assert result.error_in_exec is None
    final = final_outputs(cap)
    report = [o for o in final if CELLS_MIME in o]
    assert len(report) == 1
    payload = report[0][CELLS_MIME]
    assert payload == shell.user_ns["warp"].snapshot.cells
    assert "## References" in report[0]["text/markdown"] and "<h2>" in report[0]["text/html"]
    assert "no notebook frontend: the report is this cell's Markdown output" in final[1]["text/plain"]
    assert [list(o)[0] for o in final] == [OUTLINE_MIME, "text/plain", CELLS_MIME]


def test_backend_failure_says_how_to_resume_and_resume_finishes(shell, tmp_path):
    class DiesAfter(ScriptedBackend):
        def generate(self, requests):
            if self.calls >= 3:
                raise BackendUnavailableError("model server at http://127.0.0.1:9 did not answer")
            return super().generate(requests)

    magics_of(shell).backend_factory = lambda spec: DiesAfter(question_script())
    result, cap = run(shell, "%%warp --max-extends 0 --run-dir runs/one\nWhat is alpha?")
    line = one_line_error(cap, "BackendUnavailableError")
    assert "did not answer" in line
    assert "continue it with `%warp_resume runs/one`" in cap.stdout
    assert shell.user_ns["warp"].run.state.step == 3

    magics_of(shell).backend_factory = lambda spec: ScriptedBackend(question_script())
    result, cap = run(shell, "%warp_resume runs/one --run --name again")
    assert result.error_in_exec is None, cap.stdout
    again = shell.user_ns["again"]
    assert again.run.done and "resumed run" in cap.stdout and "at step 3" in cap.stdout
    assert [s.index for s in again.steps] == list(range(1, again.run.state.step + 1))


def test_resume_brings_the_controller_back_at_the_last_step(shell):
    run(shell, "%%warp --step --max-extends 0 --run-dir runs/s\nWhat is alpha?")
    controller = shell.user_ns["warp"].controller
    controller.step(3)
    kernel_magics.unload_ipython_extension(shell)  # "kernel restart": a new extension, a new variable
    shell.user_ns.pop("warp")
    kernel_magics.load_ipython_extension(shell)
    magics_of(shell).backend_factory = lambda spec: ScriptedBackend(question_script())
    magics_of(shell).searcher_factory = lambda index: MemorySearcher()
    result, cap = run(shell, "%warp_resume runs/s")
    assert result.error_in_exec is None, cap.stdout
    back = shell.user_ns["warp"].controller
    assert back is not None and back.last_step.index == 3 and back.outline.outline["step"] == 3
    assert "step 3" in back.detail.value
    assert not back.done
    _, cap = run(shell, "%warp_step 2")
    assert "step 4 ·" in cap.stdout and "step 5 ·" in cap.stdout
    assert back.run.state.step == 5


def test_backends_are_loaded_once_per_spec(shell):
    made = []
    def factory(spec):
        made.append(spec)
        backend = ScriptedBackend(question_script())
        backend.reusable = not spec.startswith("replay:")  # as ReplayBackend: its replies run out
        return backend

    magics_of(shell).backend_factory = factory
    for _ in range(2):
        run(shell, "%%warp --max-extends 0 --model tiny\nQ one")
        run(shell, "%%warp --max-extends 0 --model replay:a.jsonl\nQ two")
    assert made == ["tiny", "replay:a.jsonl", "replay:a.jsonl"]


def test_warp_index_builds_a_real_index_that_warp_uses(shell, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "errors.md").write_text("# Errors\n\nThe try statement handles an exception raised in its body.\n\n"
                                    "## Raising\n\nThe raise statement raises an exception; `from` chains it.\n")
    (docs / "loops.md").write_text("# Loops\n\nA for loop iterates; an exception stops it unless handled.\n")
    m = magics_of(shell)
    m.searcher_factory = None
    result, cap = run(shell, "%warp_index docs --index idx --quiet")
    assert result.error_in_exec is None, cap.stdout
    assert "2 added" in cap.stdout and "Warp.index is now idx" in cap.stdout
    assert m.index == "idx"
    result, cap = run(shell, "%%warp --max-extends 0\nHow are exceptions raised and handled?")
    assert result.error_in_exec is None, cap.stdout
    run_ = shell.user_ns["warp"].run
    assert run_.done and run_.state.counters["writes"] == 3
    cited = {p.path for s in run_.steps for p in s.passages}
    assert any(path.endswith("errors.md") for path in cited)


def test_run_dir_holds_the_state(shell, tmp_path):
    run(shell, "%%warp --max-extends 0 --run-dir runs/x\nWhat is alpha?")
    state = json.loads((tmp_path / "runs" / "x" / "state.json").read_text())
    assert state["status"] == "done" and state["query"] == "What is alpha?"


def test_an_out_path_that_cannot_be_written_fails_before_the_run(shell, tmp_path):
    (tmp_path / "taken").mkdir()
    result, cap = run(shell, "%%warp --max-extends 0 --out taken\nWhat is alpha?")
    assert "is a folder" in one_line_error(cap, "RunError")
    assert "warp" not in shell.user_ns and not list(Path(".warp/runs").glob("*"))
