"""Backend options reach the backend's factory from every front end (the command line, the
magic's flag, the ``Warp`` traitlet, ``WarpConfig``), and secrets never reach the run folder."""

from __future__ import annotations

import json

import pytest

import kernel_magics
from jupyter_warp.cli import main
from jupyter_warp.config import WarpConfig
from jupyter_warp.llm import registry as registry_module
from jupyter_warp.runs import open_run
from scripted import MemorySearcher, ScriptedBackend, good_script
from test_magics_support import get_shell, question_script, run


@pytest.fixture
def probe(monkeypatch):
    """A backend named ``probe`` that records the options its factory gets."""
    seen: list[dict] = []

    def factory(target, **options):
        seen.append(options)
        return ScriptedBackend(good_script())

    reg = registry_module.BackendRegistry(entry_points=False)
    reg.register("probe", factory)
    monkeypatch.setattr(registry_module, "registry", reg)
    return seen


def test_from_the_command_line(tmp_path, probe, monkeypatch, capsys):
    from jupyter_warp.corpus import build_index

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.md").write_text("# Alpha\n\nAlpha and beta are discussed here at length.\n")
    build_index([tmp_path / "d"], tmp_path / "ix", progress=False)
    code = main(["run", "alpha and beta?", "--index", str(tmp_path / "ix"), "--model", "probe", "--quiet",
                 "--max-steps", "2", "--run-dir", str(tmp_path / "r"),
                 "--backend-opt", "context_window=4096", "--backend-opt", "api_key=s3cret",
                 "--backend-opt", 'extra_body={"top_k": 20}'])
    assert code == 0, capsys.readouterr()
    assert probe == [{"context_window": 4096, "api_key": "s3cret", "extra_body": {"top_k": 20}}]
    saved = json.loads((tmp_path / "r" / "state.json").read_text())["config"]["backend_options"]
    assert saved == {"context_window": 4096, "extra_body": {"top_k": 20}}
    assert "s3cret" not in "".join(p.read_text() for p in (tmp_path / "r").iterdir() if p.is_file())


def test_from_config_to_the_factory(tmp_path, probe):
    config = WarpConfig(model="probe", backend_options={"timeout": 5})
    run = open_run("q", run_dir=tmp_path / "r", config=config, searcher=MemorySearcher())
    run.step()
    assert probe == [{"timeout": 5}]


def test_from_the_magic_flag_and_the_traitlet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sh = get_shell()
    sh.config.pop("Warp", None)
    kernel_magics.load_ipython_extension(sh)
    try:
        magics = sh.magics_manager.registry["Warp"]
        seen = []
        magics.backend_factory = lambda spec, **options: seen.append(options) or ScriptedBackend(question_script())
        magics.searcher_factory = lambda index: MemorySearcher()
        result, cap = run(sh, "%%warp --max-steps 1 --backend-opt context_window=2048 --backend-opt api_key=k\nQ?")
        assert result.error_in_exec is None, cap.stdout
        run(sh, "%config Warp.backend_options = {'timeout': 9}")
        result, cap = run(sh, "%%warp --max-steps 1\nQ again?")
        assert result.error_in_exec is None, cap.stdout
        assert seen == [{"context_window": 2048, "api_key": "k"}, {"timeout": 9}]
    finally:
        kernel_magics.unload_ipython_extension(sh)


def test_a_bad_option_is_one_line(capsys):
    assert main(["run", "q", "--backend-opt", "novalue"]) == 2
    assert "is not KEY=VALUE" in capsys.readouterr().err
