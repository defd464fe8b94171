"""The widgets without a browser: controller state after steps and edits, the outline's
messages, pause/stop in the worker thread, what the ``%%warp --step`` cell holds in the end
(the static outline, no widget view), the step panel and escaping; the comm to the extension
is in ``test_frontend_link.py``."""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from jupyter_warp.config import WarpConfig
from jupyter_warp.mime import CELLS_MIME, OUTLINE_MIME
from jupyter_warp.runs import Run
from kernel_magics.cells import cells_bundle
from kernel_magics.controller import StepController
from kernel_magics.outline import OutlineWidget
from kernel_magics.result import WarpResult
from kernel_magics.views import escape_markdown, markdown_html, outline_bundle, status_line
from scripted import MemorySearcher, ScriptedBackend, plan, reply, shown_keys
from test_magics_support import GatedBackend, final_outputs, get_shell, make_run, question_script

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
EVIL = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def send_from_js(widget: OutlineWidget, content: dict) -> None:
    """What the front end's ``model.send(...)`` delivers to the kernel."""
    widget._handle_custom_msg(content, [])


@pytest.fixture
def cell():
    """The outputs of one notebook cell (a real shell's display publisher, captured)."""
    get_shell()
    with capture_output() as cap:
        yield cap


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
    assert "<b>searched for</b>: exception · try statement" in c.detail.value  # the action, not its JSON
    assert "6 passages</summary>" in c.detail.value and "[1] docs/exception.md § Intro" in c.detail.value
    assert "planning · step 1/140 · 0/0 sections written · 1 search · 0 extends" in c.status.value

    c.step()  # the plan
    nodes = c.outline.outline["nodes"]
    assert [n["status"] for n in nodes] == ["planned"] * 3
    assert "planned “Report” in 3 sections</b><ul><li>1 Part 1</li>" in c.detail.value
    assert "+ section-1 Part 1" in c.detail.value  # what changed
    c.step(2)  # search for section-1, then write it
    assert c.outline.outline["nodes"][0]["status"] == "written"
    assert c.outline.outline["nodes"][0]["citations"] == 2
    assert "drafting 1" in c.detail.value and "<b>wrote 1</b>" in c.detail.value
    assert "A section body long enough to pass the checks" in c.detail.value and '{"name"' not in c.detail.value


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
    # The queued edit was applied between steps, then the outline was refreshed, and the
    # tree's note says what it did (no "queued" left, no "pausing" left).
    assert [s.title for s in c.run.report.sections] == ["Queued section"]
    assert [n["title"] for n in c.outline.outline["nodes"]] == ["Queued section"]
    assert c.outline.message == "+ section-1 Queued section"
    assert not c.step_button.disabled and c.pause_button.disabled and not c.outline.busy


def test_step_button_takes_one_step_in_the_worker(tmp_path):
    c = StepController(make_run(tmp_path))
    c._click_step(None)
    assert c.wait(10)
    assert c.run.state.step == 1 and c.last_step.index == 1


def test_stop_from_the_button_ends_the_run_in_the_step_cell(tmp_path, cell):
    c = StepController(make_run(tmp_path), cells=True, outputs=[str(tmp_path / "report.md")]).show(hint="Step or Run")
    c.step(4)
    c._click_stop(None)  # from a button: the %%warp cell's outputs take the end
    assert c.done and c.run.state.status == "stopped" and c.finished
    assert c.step_button.disabled and c.run_button.disabled and c.stop_button.disabled
    assert not c.outline.editable
    widget, outline, progress, report = final_outputs(cell)
    assert widget == {}  # the controller's output is emptied: no widget view is saved
    assert outline[OUTLINE_MIME]["status"] == "stopped" and outline[OUTLINE_MIME]["step"] == 4
    assert progress["text/plain"].startswith(f"report saved to {tmp_path / 'report.md'}\nstopped · step 4/140 · ")
    assert "Step or Run" not in progress["text/plain"]  # the hint is gone once steps were taken
    assert report[CELLS_MIME]["run_id"] == c.run.run_id
    assert (tmp_path / "report.md").read_text().startswith("# Report")
    again = Run.resume(tmp_path / "r")
    assert again.state.status == "running"  # a stopped run resumes


def test_finishing_from_a_background_run_delivers_the_report_once(tmp_path, cell):
    c = StepController(make_run(tmp_path), cells=True).show()
    c.start()
    assert c.wait(10) and c.done and c.run.state.status == "done"
    c.stop()
    c.step()
    reports = [o.data for o in cell.outputs if CELLS_MIME in o.data]
    assert len(reports) == 1 and reports[0][CELLS_MIME]["run_id"] == c.run.run_id
    final = final_outputs(cell)
    assert [list(o)[:1] for o in final] == [[], [OUTLINE_MIME], ["text/plain"], [CELLS_MIME]]
    assert final[1][OUTLINE_MIME]["status"] == "done" and final[2]["text/plain"].startswith("done · step ")
    assert "no notebook frontend" in final[2]["text/plain"]  # no link: the Markdown output is the report
    # Every step replaced the static outline in place (the runs panel and a saved notebook read it).
    steps = [o.data[OUTLINE_MIME]["step"] for o in cell.outputs if o.update and OUTLINE_MIME in o.data]
    assert steps[:c.run.state.step] == list(range(1, c.run.state.step + 1))


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
    text = "\n".join(c.views.lines.lines)
    assert "BackendUnavailableError: model server did not answer" in text
    assert f"%warp_resume {c.run.dir}" in text and "Traceback" not in text
    assert not c.log.outputs and not c.step_button.disabled  # try again


# What a saved notebook shows.
def test_a_displayed_controller_is_its_view_and_a_static_outline_apart(tmp_path, cell):
    c = StepController(make_run(tmp_path))
    c.step(2)
    c._ipython_display_()  # `warp.controller` in a later cell
    view, static = final_outputs(cell)
    assert WIDGET_MIME in view and OUTLINE_MIME not in view and view[WIDGET_MIME]["model_id"] == c.widget.model_id
    assert WIDGET_MIME not in static and static[OUTLINE_MIME]["run_id"] == c.run.run_id
    assert "1 Part 1" in static["text/markdown"] and "<details>" in static["text/html"]
    assert "  1 Part 1 — planned, 0 citations" in static["text/plain"]
    tree_data, _ = c.outline._repr_mimebundle_()
    assert WIDGET_MIME in tree_data and OUTLINE_MIME not in tree_data
    c.run_to_end(background=False)  # both follow the run: the view goes, the outline ends done
    view, static = final_outputs(cell)
    assert view == {} and static[OUTLINE_MIME]["status"] == "done"
    WarpResult(c.run, controller=c)._ipython_display_()
    assert WIDGET_MIME not in final_outputs(cell)[-1] and final_outputs(cell)[-1][OUTLINE_MIME]["status"] == "done"


def test_the_step_panel_reads_as_text(tmp_path):
    extend = {"name": "extend-plan", "position": "section-2",
              "subsections": [{"title": "Sub A", "plan": "a"}, {"title": "Sub B", "plan": "b"}]}
    c = StepController(make_run(tmp_path, ScriptedBackend(question_script(extend=extend)), max_extends=1))
    c.run_to_end(background=False)
    panels = {}
    for step in c.run.steps:
        from kernel_magics.stepview import step_html

        panels.setdefault(step.state, step_html(step))
    assert "<b>split 2 into 2 subsections</b><ul><li>2.1 Sub A</li><li>2.2 Sub B</li></ul>" in panels["extend_plan"]
    for html in panels.values():
        assert '"name"' not in html and "{" not in html  # no JSON
    # Passages outside the notebook's folder: relative to the folder they share, named once.
    from jupyter_warp.records import Passage, Step
    from kernel_magics.stepview import step_html

    step = Step(index=1, state="search", action={"name": "search", "keywords": ["a"]}, keys=[1, 2],
                passages=[Passage("a", "# H\n\n**bold** text", "/corpus/papers/a.md", heading="H > Sub"),
                          Passage("b", "plain <i>", "/corpus/notes/b.pdf", page=3)])
    html = step_html(step, "planning")
    assert "2 passages in /corpus</summary>" in html and "[1] papers/a.md § H &gt; Sub" in html
    assert "[2] notes/b.pdf, p. 3" in html
    assert "<strong>bold</strong>" in html and "plain &lt;i&gt;" in html  # Markdown rendered, text as text
    # The end: no "next", no doubled parentheses.
    over = step_html(c.last_step, over=c.next_label())
    assert "run over: done: " in over and "next:" not in over and "))" not in over


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


def test_safe_markdown_helpers():
    text = "a < b & `x < y` and\n\n```\nif a < b:\n```\n\n[link](javascript:alert(1)) <b>bold</b>"
    escaped = escape_markdown(text)
    assert "a < b &" in escaped and "`x < y`" in escaped and "if a < b:" in escaped
    assert "](javascript:" not in escaped and "](unsafe-javascript:" in escaped and "&lt;b>" in escaped
    html = markdown_html("# T\n\n<script>x</script> [l](javascript:alert(1)) **b**")
    assert "<script" not in html and "href" not in html and "<strong>b</strong>" in html
    line = status_line({"state": "write", "cursor": "section-2.1", "status": "running", "step": 12, "max_steps": 140,
                        "counts": {"searches": 4, "extends": 1, "tokens_in": 12345, "tokens_out": 3210}, "nodes": []})
    assert line == "drafting 2.1 · step 12/140 · 0/0 sections written · 4 searches · 1 extend · tokens 12k/3.2k"
