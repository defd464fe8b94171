"""The widgets without a browser: controller state after steps and edits, the outline's
messages, pause/stop in the worker thread, the static fallback, escaping, the comm to the
extension, and turning report outputs into cells."""

from __future__ import annotations

import comm
import nbformat
import pytest
from scripted import MemorySearcher, ScriptedBackend, plan, reply, shown_keys
from test_magics_support import GatedBackend, RecordingComm, get_shell, question_script, run

import kernel_magics
from jupyter_warp.config import WarpConfig
from jupyter_warp.mime import CELL_METADATA_KEY, CELLS_MIME, COMM_TARGET, OUTLINE_MIME
from jupyter_warp.runs import Run
from kernel_magics.cells import WidgetTarget, cells_bundle, expand_report_cells, write_cells
from kernel_magics.controller import StepController
from kernel_magics.frontend import LIVE, NO_EXTENSION, UNKNOWN, FrontendLink
from kernel_magics.outline import OutlineWidget
from kernel_magics.views import escape_markdown, markdown_html, outline_bundle, status_line

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
EVIL = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def make_run(tmp_path, backend=None, name="r", **config) -> Run:
    config.setdefault("max_extends", 0)
    return Run.create("What is alpha?", WarpConfig(**config), run_dir=tmp_path / name,
                      backend=backend or ScriptedBackend(question_script()), searcher=MemorySearcher())


def send_from_js(widget: OutlineWidget, content: dict) -> None:
    """What the front end's ``model.send(...)`` delivers to the kernel."""
    widget._handle_custom_msg(content, [])


# The controller.
def test_controller_state_after_each_step(tmp_path):
    c = StepController(make_run(tmp_path))
    assert c.outline.outline["step"] == 0 and c.outline.editable
    assert "No step taken yet" in c.detail.value and "searching" in c.detail.value
    assert not c.step_button.disabled and c.pause_button.disabled

    [step] = c.step()
    assert step.state == "search"
    assert c.outline.outline["step"] == 1 and c.outline.outline["state"] == "init_plan"
    assert "step 1" in c.detail.value and "searching" in c.detail.value and "next: planning" in c.detail.value
    assert "look for evidence" in c.detail.value  # the thought
    assert "passages</summary>" in c.detail.value and "docs/exception.md" in c.detail.value
    assert "step 1/140 · 1 search · 0 extends" in c.status.value

    c.step()  # the plan
    nodes = c.outline.outline["nodes"]
    assert [n["status"] for n in nodes] == ["planned"] * 3
    assert "+ section-1 Part 1" in c.detail.value  # what changed
    c.step(2)  # search for section-1, then write it
    assert c.outline.outline["nodes"][0]["status"] == "written"
    assert c.outline.outline["nodes"][0]["citations"] == 2
    assert "drafting section-1" in c.detail.value


def test_edits_from_the_tree_change_what_the_next_steps_do(tmp_path):
    c = StepController(make_run(tmp_path))
    c.step(2)  # searched and planned: three sections
    send_from_js(c.outline, {"event": "edit", "op": "rename", "position": "section-1", "title": "Alpha first"})
    assert c.outline.message == "renamed section-1 'Part 1' -> 'Alpha first'"
    assert c.outline.outline["nodes"][0]["title"] == "Alpha first"
    send_from_js(c.outline, {"event": "edit", "op": "lock", "position": "section-2"})
    send_from_js(c.outline, {"event": "edit", "op": "delete", "position": "section-3"})
    send_from_js(c.outline, {"event": "edit", "op": "add", "position": None, "title": "Added by hand", "plan": "p"})
    send_from_js(c.outline, {"event": "edit", "op": "replan", "position": "section-1", "plan": "only alpha"})
    nodes = c.outline.outline["nodes"]
    assert [(n["title"], n["status"]) for n in nodes] == [
        ("Alpha first", "planned"), ("Part 2", "locked"), ("Added by hand", "planned")]
    assert nodes[0]["plan"] == "only alpha"

    c.run_to_end(background=False)
    report = c.run.report
    assert [s.title for s in report.sections] == ["Alpha first", "Part 2", "Added by hand"]
    assert [s.status for s in report.sections] == ["written", "planned", "written"]  # the locked one is never written
    writer_prompts = [s.prompt for s in c.run.steps if s.state == "write"]
    assert any("only alpha" in p for p in writer_prompts)
    edits = (tmp_path / "r" / "edits.jsonl").read_text().splitlines()
    assert len(edits) == 5


def test_a_bad_edit_shows_one_line_and_a_bug_goes_to_the_output(tmp_path):
    c = StepController(make_run(tmp_path))
    c.step(2)
    send_from_js(c.outline, {"event": "edit", "op": "rename", "position": "section-9", "title": "x"})
    assert c.outline.message.startswith("error: no node at section-9")
    send_from_js(c.outline, {"event": "edit", "op": "explode", "position": "section-1"})
    assert c.outline.message.startswith("error: unknown edit 'explode'")
    send_from_js(c.outline, {"event": "edit", "op": "rename", "position": "section-1"})  # no title: a bug
    assert c.outline.message.startswith("error: KeyError")
    assert any("Traceback" in o.get("text", "") for o in c.log.outputs)
    read_only = OutlineWidget(c.run.snapshot().outline)
    send_from_js(read_only, {"event": "edit", "op": "delete", "position": "section-1"})
    assert read_only.message == "error: this outline is read-only"


def test_run_in_background_pause_and_queued_edits(tmp_path):
    backend = GatedBackend(question_script())
    c = StepController(make_run(tmp_path, backend))
    c._click_run(None)  # the Run button
    assert backend.entered.wait(5)
    assert c.running and c.step_button.disabled and not c.pause_button.disabled and c.outline.busy
    with pytest.raises(Exception, match="pause it first"):
        c.step()
    message = c.edit("add", None, title="Queued section")
    assert "queued" in message[0]
    c._click_pause(None)
    backend.gate.set()
    assert c.wait(10)
    assert c.run.state.step == 1 and not c.running and not c.done
    # The queued edit was applied between steps, then the outline was refreshed.
    assert [s.title for s in c.run.report.sections] == ["Queued section"]
    assert [n["title"] for n in c.outline.outline["nodes"]] == ["Queued section"]
    assert not c.step_button.disabled and c.pause_button.disabled and not c.outline.busy


def test_step_button_takes_one_step_in_the_worker(tmp_path):
    c = StepController(make_run(tmp_path))
    c._click_step(None)
    assert c.wait(10)
    assert c.run.state.step == 1 and c.last_step.index == 1


def test_stop_ends_the_run_and_writes_cells_into_the_widget(tmp_path):
    c = StepController(make_run(tmp_path), cells=True, outputs=[str(tmp_path / "report.md")])
    c.step(4)
    c._click_stop(None)  # from a button: no cell to write into, so the report goes to the widget
    assert c.done and c.run.state.status == "stopped" and c.finished
    assert c.step_button.disabled and c.run_button.disabled and c.stop_button.disabled
    datas = [o["data"] for o in c.report_out.outputs if o["output_type"] == "display_data"]
    assert len(datas) == 1 and datas[0][CELLS_MIME]["run_id"] == c.run.run_id
    said = "".join(o.get("text", "") for o in c.report_out.outputs)
    assert "report saved to" in said and "stopped" in said
    assert (tmp_path / "report.md").read_text().startswith("# Report")
    again = Run.resume(tmp_path / "r")
    assert again.state.status == "running"  # a stopped run resumes


def test_finishing_from_a_background_run_writes_cells_once(tmp_path):
    c = StepController(make_run(tmp_path), cells=True)
    c.start()
    assert c.wait(10) and c.done and c.run.state.status == "done"
    assert len([o for o in c.report_out.outputs if o["output_type"] == "display_data"]) == 1
    c.stop()
    c.step()
    assert len([o for o in c.report_out.outputs if o["output_type"] == "display_data"]) == 1


def test_backend_error_from_code_raises_with_a_resume_hint(tmp_path, capsys):
    from jupyter_warp.errors import BackendUnavailableError

    class Down(ScriptedBackend):
        def generate(self, requests):
            raise BackendUnavailableError("model server did not answer")

    c = StepController(make_run(tmp_path, Down(question_script())))
    with pytest.raises(BackendUnavailableError):
        c.step()
    assert f"`%warp_resume {c.run.dir}`" in capsys.readouterr().out
    assert c.run.state.step == 0 and not c.step_button.disabled


def test_backend_error_in_the_worker_is_one_line_with_a_resume_hint(tmp_path):
    from jupyter_warp.errors import BackendUnavailableError

    class Down(ScriptedBackend):
        def generate(self, requests):
            raise BackendUnavailableError("model server did not answer")

    c = StepController(make_run(tmp_path, Down(question_script())))
    c.start()
    assert c.wait(10)
    text = "".join(o.get("text", "") for o in c.log.outputs)
    assert "BackendUnavailableError: model server did not answer" in text
    assert f"%warp_resume {c.run.dir}" in text and "Traceback" not in text
    assert not c.step_button.disabled  # try again


# What a saved notebook shows.
def test_displayed_widgets_carry_the_static_outline(tmp_path):
    c = StepController(make_run(tmp_path))
    c.step(2)
    data, _ = c._repr_mimebundle_()
    assert WIDGET_MIME in data and data[WIDGET_MIME]["model_id"] == c.widget.model_id
    assert data[OUTLINE_MIME]["run_id"] == c.run.run_id
    assert "section-1" in data["text/markdown"] and "<details>" in data["text/html"]
    assert data["text/plain"].startswith("searching for section-1 · step 2/")
    tree_data, _ = c.outline._repr_mimebundle_()
    assert tree_data[WIDGET_MIME]["model_id"] == c.outline.model_id and OUTLINE_MIME in tree_data
    assert "section-1 Part 1 — planned, 0 citations" in tree_data["text/plain"]


def test_document_text_is_escaped_everywhere(tmp_path):
    def script(request):
        p = request.prompt
        if "You are the searcher" in p:
            return reply({"name": "search", "keywords": ["alpha"]}, thought=EVIL)
        if "You are the planner" in p:
            out = plan(3, title=EVIL)
            out["sections"][0]["title"] = EVIL
            return reply(out)
        keys = shown_keys(p)
        return reply(f"Evil text {EVIL} long enough to pass the checks, citing [{keys[0]}].")

    class EvilSearcher(MemorySearcher):
        def search_many(self, queries, k):
            passages = super().search_many(queries, k)
            for p in passages:
                p.text, p.path = EVIL + p.text, EVIL + ".md"
            return passages

    run_ = Run.create("q", WarpConfig(max_extends=0), run_dir=tmp_path / "r",
                      backend=ScriptedBackend(script), searcher=EvilSearcher())
    c = StepController(run_)
    c.step(1)
    for html in (c.detail.value, c.status.value):
        assert "<img" not in html and "<script" not in html
    assert "&lt;img" in c.detail.value
    c.step(3)
    bundle = outline_bundle(run_.snapshot().outline)
    assert "<img" not in bundle["text/html"] and "<script" not in bundle["text/html"]
    assert "<img" not in bundle["text/markdown"] and "&lt;img" in bundle["text/markdown"]
    cells = cells_bundle(run_.snapshot().cells, run_.snapshot().markdown)
    assert "<img" not in cells["text/html"] and "<script" not in cells["text/html"]
    assert "<img" not in cells["text/markdown"] and "<script" not in cells["text/markdown"]
    assert 'src="x"' not in c.outline._repr_mimebundle_()[0]["text/html"]


def test_safe_markdown_helpers():
    text = "a < b & `x < y` and\n\n```\nif a < b:\n```\n\n[link](javascript:alert(1)) <b>bold</b>"
    escaped = escape_markdown(text)
    assert "a &lt; b &amp;" in escaped and "`x < y`" in escaped and "if a < b:" in escaped
    assert "](javascript:" not in escaped and "](unsafe-javascript:" in escaped and "&lt;b>" in escaped
    html = markdown_html("# T\n\n<script>x</script> [l](javascript:alert(1)) **b**")
    assert "<script" not in html and "href" not in html and "<strong>b</strong>" in html
    line = status_line({"state": "write", "cursor": "section-2.1", "status": "running", "step": 12,
                        "counts": {"searches": 4, "extends": 1, "tokens_in": 12345, "tokens_out": 3210}}, 140, 41.2)
    assert line == "drafting section-2.1 · step 12/140 · 4 searches · 1 extend · tokens 12k/3.2k · 41 s"


# The comm to the JupyterLab extension.
@pytest.fixture
def recording_comm(monkeypatch):
    made: list[RecordingComm] = []

    def create(*args, **kwargs):
        made.append(RecordingComm(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(comm, "create_comm", create)
    return made


def finished_payload(tmp_path):
    r = make_run(tmp_path)
    r.run()
    return r, r.snapshot().cells, r.snapshot().markdown


class Cell:
    """A CellTarget that records instead of displaying."""

    keep_report_when_inserted = True

    def __init__(self):
        self.emitted, self.said, self.next_input = [], [], []
        self.set_next_input = self.next_input.append

    def emit(self, bundle):
        self.emitted.append(bundle)

    def say(self, text):
        self.said.append(text)
        return self.said.append


def test_link_hello_ack_and_insert(recording_comm, tmp_path):
    link = FrontendLink()
    link.open()
    [c] = recording_comm
    assert c.target_name == COMM_TARGET and c.sent[0]["msg_type"] == "comm_open"
    assert c.sent[0]["data"]["action"] == "hello" and link.mode == UNKNOWN
    c.answer({"action": "hello-ack", "version": 1})
    assert link.mode == LIVE and link.version == 1

    r, payload, md = finished_payload(tmp_path)
    cell = Cell()
    outcome = write_cells(payload, md, link, cell)
    assert outcome.mode == "sent" and outcome.count == len(r.report.sections) + 1
    assert cell.emitted[0][CELLS_MIME] == payload and not cell.next_input
    assert c.sent[-1]["data"] == {"action": "insert-cells", "payload": payload}
    c.answer({"action": "inserted", "run_id": r.run_id, "count": outcome.count})
    assert cell.said[-1] == f"{outcome.count} report cells inserted below this cell"
    assert link.inserted[r.run_id] == outcome.count and not link.on_inserted


def test_link_queues_until_the_ack(recording_comm, tmp_path):
    link = FrontendLink()
    link.open()
    [c] = recording_comm
    r, payload, md = finished_payload(tmp_path)
    cell = Cell()
    assert write_cells(payload, md, link, cell).mode == "queued"
    assert [m["msg_type"] for m in c.sent] == ["comm_open"]
    c.answer({"action": "hello-ack", "version": 1})
    assert c.sent[-1]["data"]["action"] == "insert-cells"
    c.answer({"action": "inserted", "run_id": r.run_id, "count": 0})
    assert "already in this notebook" in cell.said[-1]


def test_link_without_extension_falls_back_to_next_input(recording_comm, tmp_path):
    link = FrontendLink()
    link.open()
    recording_comm[0].refuse()
    assert link.mode == NO_EXTENSION
    r, payload, md = finished_payload(tmp_path)
    cell = Cell()
    outcome = write_cells(payload, md, link, cell)
    assert outcome.mode == "next-input" and cell.next_input == [md]
    assert "extension is not installed" in cell.said[-1] and "next cell" in cell.said[-1]
    # From a button there is no next cell: the report output is all there is, and it says so.
    from ipywidgets import Output

    out = Output()
    outcome = write_cells(payload, md, link, WidgetTarget(out))
    assert outcome.mode == "output" and out.outputs[0]["data"][CELLS_MIME] == payload


def test_from_a_button_with_the_extension_only_the_cells_are_sent(recording_comm, tmp_path):
    from ipywidgets import Output

    link = FrontendLink()
    link.open()
    recording_comm[0].answer({"action": "hello-ack", "version": 1})
    r, payload, md = finished_payload(tmp_path)
    out = Output()
    outcome = write_cells(payload, md, link, WidgetTarget(out))
    assert outcome.mode == "sent" and recording_comm[0].sent[-1]["data"]["action"] == "insert-cells"
    assert [o["output_type"] for o in out.outputs] == ["stream"]  # the message, no second copy of the report


def test_no_kernel_means_no_frontend(tmp_path):
    link = FrontendLink()
    link.open()  # plain IPython: the comm package's DummyComm
    assert link.comm is None and link.mode == UNKNOWN
    r, payload, md = finished_payload(tmp_path)
    assert write_cells(payload, md, link, Cell()).mode == "output"


def test_load_ext_greets_the_frontend_and_to_cells_uses_the_link(recording_comm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sh = get_shell()
    sh.config.pop("Warp", None)
    kernel_magics.load_ipython_extension(sh)
    try:
        m = sh.magics_manager.registry["Warp"]
        m.backend_factory = lambda spec: ScriptedBackend(question_script())
        m.searcher_factory = lambda index: MemorySearcher()
        [c] = recording_comm
        assert c.sent[0]["data"]["action"] == "hello"
        c.answer({"action": "hello-ack", "version": 1})
        result, cap = run(sh, "%%warp --max-extends 0 --cells\nWhat is alpha?")
        assert result.error_in_exec is None, cap.stdout
        inserts = [m_ for m_ in c.sent if m_["data"].get("action") == "insert-cells"]
        assert len(inserts) == 1 and inserts[0]["data"]["payload"]["run_id"] == sh.user_ns["warp"].run.run_id
        outcome = sh.user_ns["warp"].to_cells()
        assert outcome.mode == "sent"
    finally:
        kernel_magics.unload_ipython_extension(sh)


# Headless: the executed notebook's report outputs become cells.
def test_expand_report_cells_is_idempotent(tmp_path):
    r, payload, md = finished_payload(tmp_path)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("%%warp --cells\nWhat is alpha?")
    cell.outputs = [nbformat.v4.new_output("display_data", data=cells_bundle(payload, md))]
    nb.cells = [nbformat.v4.new_markdown_cell("intro"), cell, nbformat.v4.new_code_cell("after")]
    expand_report_cells(nb)
    nbformat.validate(nb)
    n = len(payload["cells"])
    assert len(nb.cells) == 3 + n
    inserted = nb.cells[2:2 + n]
    assert [c.cell_type for c in inserted] == ["markdown"] * n
    assert [c.metadata[CELL_METADATA_KEY]["position"] for c in inserted][-1] == "references"
    assert all(c.metadata[CELL_METADATA_KEY]["run_id"] == r.run_id for c in inserted)
    assert nb.cells[-1].source == "after"
    assert len(expand_report_cells(nb).cells) == 3 + n  # a second pass inserts nothing
