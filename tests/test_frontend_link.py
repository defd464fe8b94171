"""The comm to the JupyterLab extension (hello, ack, queued inserts, the fallback to the next
input without it) and turning a finished run's report into notebook cells."""

from __future__ import annotations

import comm
import nbformat
import pytest

import kernel_magics
from jupyter_warp.mime import CELL_METADATA_KEY, CELLS_MIME, COMM_TARGET, OUTLINE_MIME
from kernel_magics.cells import cells_bundle, deliver_report, expand_report_cells
from kernel_magics.frontend import LIVE, NO_EXTENSION, UNKNOWN, FrontendLink
from scripted import MemorySearcher, ScriptedBackend
from test_magics_support import RecordingComm, final_outputs, get_shell, make_run, question_script, run


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
    """Where a report goes, recorded: the outputs shown, the lines said, the next input."""

    def __init__(self):
        self.shown, self.said, self.next_input = [], [], []

    def show(self, bundle):
        self.shown.append(bundle)

    def say(self, text):
        self.said.append(text)
        index = len(self.said) - 1
        return lambda new: self.said.__setitem__(index, new)

    def deliver(self, payload, md, link, next_input=True):
        return deliver_report(payload, md, link, self.show, next_input=self.next_input.append if next_input else None,
                              say=self.say)


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
    outcome = cell.deliver(payload, md, link)
    assert outcome.mode == "sent" and outcome.count == len(r.report.sections) + 1
    assert cell.shown[0][CELLS_MIME] == payload and not cell.next_input
    assert c.sent[-1]["data"] == {"action": "insert-cells", "payload": payload}
    # The extension's note says it: nothing sent, nothing inserted, is said here.
    assert outcome.message == "" and cell.said == []
    c.answer({"action": "inserted", "run_id": r.run_id, "count": outcome.count})
    assert cell.said == [] and link.inserted[r.run_id] == outcome.count and not link.on_inserted


def test_an_insert_error_is_said(recording_comm, tmp_path):
    link = FrontendLink()
    link.open()
    recording_comm[0].answer({"action": "hello-ack", "version": 1})
    r, payload, md = finished_payload(tmp_path)
    cell = Cell()
    cell.deliver(payload, md, link)
    recording_comm[0].answer({"action": "inserted", "run_id": r.run_id, "count": 0, "error": "cell 3 is a code cell"})
    assert cell.said == ["the JupyterLab extension could not insert the report: cell 3 is a code cell"]


def test_link_queues_until_the_ack(recording_comm, tmp_path):
    link = FrontendLink()
    link.open()
    [c] = recording_comm
    r, payload, md = finished_payload(tmp_path)
    cell = Cell()
    assert cell.deliver(payload, md, link).mode == "queued"
    assert [m["msg_type"] for m in c.sent] == ["comm_open"]
    assert "go to the JupyterLab extension when it answers" in cell.said[0]
    c.answer({"action": "hello-ack", "version": 1})
    assert c.sent[-1]["data"]["action"] == "insert-cells"
    c.answer({"action": "inserted", "run_id": r.run_id, "count": 0})
    assert cell.said == [""]  # answered: the waiting message is gone (the note says the rest)


def test_link_without_extension_falls_back_to_next_input(recording_comm, tmp_path):
    link = FrontendLink()
    link.open()
    recording_comm[0].refuse()
    assert link.mode == NO_EXTENSION
    r, payload, md = finished_payload(tmp_path)
    cell = Cell()
    outcome = cell.deliver(payload, md, link)
    assert outcome.mode == "next-input" and cell.next_input == [md]
    assert "extension is not installed" in outcome.message and "next cell" in outcome.message
    # From a button there is no next cell: the report output is all there is, and it says so.
    outcome = cell.deliver(payload, md, link, next_input=False)
    assert outcome.mode == "output" and cell.shown[-1][CELLS_MIME] == payload
    assert outcome.message.endswith("the report is this cell's output")


def test_no_kernel_means_no_frontend(tmp_path):
    link = FrontendLink()
    link.open()  # plain IPython: the comm package's DummyComm
    assert link.comm is None and link.mode == UNKNOWN
    r, payload, md = finished_payload(tmp_path)
    assert Cell().deliver(payload, md, link).mode == "output"


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
        # The report output is there for the note; no "sent"/"inserted" message beside it.
        final = final_outputs(cap)
        assert [list(o)[0] for o in final] == [OUTLINE_MIME, "text/plain", CELLS_MIME]
        assert final[1]["text/plain"].startswith("done · step ")
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


def test_a_report_with_a_code_cell_is_not_inserted(tmp_path):
    r, payload, md = finished_payload(tmp_path)
    payload = {**payload, "cells": [*payload["cells"][:1], {"cell_type": "code", "source": "import os; os.remove('x')",
                                                             "metadata": {}}, *payload["cells"][1:]]}
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("%%warp --cells\nWhat is alpha?")
    cell.outputs = [nbformat.v4.new_output("display_data", data=cells_bundle(payload, md))]
    nb.cells = [cell]
    with pytest.warns(UserWarning, match="its cell 2 is a code cell, and a report inserts only Markdown and raw"):
        expand_report_cells(nb)
    assert len(nb.cells) == 1
    raw = {**payload, "run_id": "raw-run", "cells": [{"cell_type": "raw", "source": "raw text", "metadata": {}}]}
    cell.outputs.append(nbformat.v4.new_output("display_data", data=cells_bundle(raw, md)))
    with pytest.warns(UserWarning):
        expand_report_cells(nb)
    assert [c.cell_type for c in nb.cells] == ["code", "raw"]
