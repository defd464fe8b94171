"""``jupyter-warp export``: the steps of runs as chat examples for fine-tuning."""

import json

import pytest

from eval_fixtures import defect_script, make_run
from jupyter_warp.cli import main
from jupyter_warp.evaluate import export_sft, load_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "run"
    make_run(path, defect_script(reject_first_write=True))
    return path


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_step_with_its_prompt_and_reply(run_dir, tmp_path):
    steps = load_run(run_dir).steps
    rejected = [s for s in steps if not s.accepted]
    assert len(rejected) == 1 and rejected[0].state == "write"
    summary = export_sft([run_dir], tmp_path / "sft.jsonl")
    rows = read(tmp_path / "sft.jsonl")
    assert len(rows) == len(steps) == summary.examples
    for row, step in zip(rows, steps, strict=True):
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert row["messages"][0]["content"] == step.prompt and row["messages"][1]["content"] == step.reply
        assert row["meta"]["step"] == step.index and row["meta"]["accepted"] == step.accepted
    for state, counts in summary.by_state.items():
        mine = [s for s in steps if s.state == state]
        assert counts["examples"] == len(mine)
        assert counts["prompt_tokens"] == sum(s.prompt_tokens for s in mine) > 0
        assert counts["completion_tokens"] == sum(s.completion_tokens for s in mine)
    assert summary.by_state["write"]["rejected"] == 1


def test_accepted_only_and_min_support(run_dir, tmp_path):
    accepted = export_sft([run_dir], tmp_path / "a.jsonl", accepted_only=True)
    assert all(r["meta"]["accepted"] for r in read(tmp_path / "a.jsonl")) and accepted.skipped == {"rejected": 1}
    # Write steps' own support: section 1 (copied + invented) 0.5, sections 2 and 3 1.0 (the
    # instruction phrase in section 3 is an edit after its step); the report's 3/5 decides
    # for the other steps.
    strict = export_sft([run_dir], tmp_path / "s.jsonl", min_support=0.75)
    rows = read(tmp_path / "s.jsonl")
    assert [(r["meta"]["state"], r["meta"]["position"]) for r in rows] == [("write", "section-2"),
                                                                          ("write", "section-3")]
    assert strict.skipped["below --min-support"] == len(load_run(run_dir).steps) - 3
    loose = export_sft([run_dir], tmp_path / "l.jsonl", min_support=0.5)
    assert loose.by_state["write"]["examples"] == 3 and loose.skipped == {"rejected": 1}
    assert loose.by_state["search"]["examples"] == 4


def test_export_command(capsys, run_dir, tmp_path):
    code = main(["export", str(run_dir), "--out", str(tmp_path / "o.jsonl"), "--accepted-only"])
    out = capsys.readouterr().out
    assert code == 0 and "total" in out and "left out: 1 rejected" in out
    assert len(read(tmp_path / "o.jsonl")) == len(load_run(run_dir).steps) - 1
    code = main(["export", str(run_dir), "--out", str(tmp_path / "o.jsonl"), "--min-support", "3"])
    assert code == 2 and "--min-support is a share from 0 to 1" in capsys.readouterr().err


@pytest.mark.model
def test_examples_load_with_the_embedded_models_chat_template(run_dir, tmp_path):
    transformers = pytest.importorskip("transformers")
    from jupyter_warp.llm._convert import converted_gguf
    from jupyter_warp.llm._models import models_cache_dir, smollm2_gguf

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(converted_gguf(smollm2_gguf(), models_cache_dir())))
    export_sft([run_dir], tmp_path / "sft.jsonl", accepted_only=True)
    rows = read(tmp_path / "sft.jsonl")
    for row in rows:
        text = tokenizer.apply_chat_template(row["messages"], tokenize=False)
        user, assistant = row["messages"][0]["content"], row["messages"][1]["content"]
        assert text.index(user.strip()) < text.index(assistant.strip())
        ids = tokenizer.apply_chat_template(row["messages"], tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        assert len(ids) > len(tokenizer.encode(assistant, add_special_tokens=False))
