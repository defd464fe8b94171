"""The whole loop against real things: the embedded model in process, and a real
OpenAI-compatible server on loopback that dies mid-run and comes back."""


import pytest

from jupyter_warp.config import WarpConfig
from jupyter_warp.corpus import build_index
from jupyter_warp.corpus.samples import export_pydoc_topics
from jupyter_warp.errors import BackendUnavailableError
from jupyter_warp.llm import get_backend
from jupyter_warp.runs import Run

QUESTION = "How does Python handle exceptions, from the try statement to raising and chaining?"
SMALL = dict(max_sections=4, max_subsections=3, first_k=6, k=4, passage_max_chars=400, thought_max_chars=120,
             write_max_chars=400, seed=0, max_extends=0)


@pytest.fixture(scope="module")
def pydoc_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("pydoc")
    export_pydoc_topics(root / "corpus")
    build_index([root / "corpus"], root / "index", progress=False)
    return root / "index"


@pytest.mark.model
def test_real_model_end_to_end(tmp_path, pydoc_index):
    backend = get_backend("smollm2")
    assert backend.supports_grammar
    config = WarpConfig(index=str(pydoc_index), max_steps=8, **SMALL)
    run = Run.create(QUESTION, config, run_dir=tmp_path / "run", backend=backend)
    run.run()
    steps = run.steps
    assert len(steps) == 8 and run.state.status == "done"
    assert steps[0].state == "search" and steps[0].error is None and steps[0].passages
    assert all(s.prompt_tokens > 0 and s.completion_tokens > 0 and s.latency_s > 0 for s in steps)
    assert len(run.report.sections) >= 3
    written = [n for n in run.report.sections if n.status == "written"]
    assert written, [s.error for s in steps]
    md = run.snapshot().markdown
    assert "[1]" in md and "## References" in md and "corpus/" in md.split("## References")[1]
    for step in steps:
        assert "<thought>" not in md and "<action>" not in md, step.reply


@pytest.mark.server
def test_openai_server_dies_mid_run_and_resume_loses_nothing(tmp_path, pydoc_index):
    from servers import LlamaServer, require_llama_server

    require_llama_server()
    config = WarpConfig(index=str(pydoc_index), max_steps=6, **SMALL)
    with LlamaServer() as server:
        backend = get_backend(f"openai:{server.url}", max_tries=2, backoff=0.2)
        run = Run.create(QUESTION, config, run_dir=tmp_path / "run", backend=backend)
        run.run(max_steps=2)
        assert run.state.step == 2 and all(s.error is None for s in run.steps[:1])
        server.kill()
        with pytest.raises(BackendUnavailableError, match="did not answer"):
            run.run()
        assert run.state.step == 2
        server.restart()
        again = Run.resume(tmp_path / "run", backend=get_backend(f"openai:{server.url}"))
        assert again.state.step == 2
        again.run()
    assert again.state.step == 6
    logged = (tmp_path / "run" / "steps.jsonl").read_text().splitlines()
    assert [s.index for s in again.steps] == [1, 2, 3, 4, 5, 6] and len(logged) == 6
    assert again.steps[0].state == "search" and again.steps[0].error is None
