"""Python words a run as the extension does (issue 16): ``jupyter_warp.wording`` and the live
tree's ``kernel_magics/static/outline.js`` give the same text on the same cases, and jest
checks outline.js against ``labextension/src/wording.ts``; so the terminal, the notebook's
static views and status line, the live tree and the extension agree."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from jupyter_warp import wording
from jupyter_warp.render import outline_text
from kernel_magics.views import outline_html, short_number, state_label, status_line

ROOT = Path(__file__).resolve().parent.parent
OUTLINE_JS = ROOT / "kernel_magics" / "static" / "outline.js"

NUMBERS = [0, 1, 2, 7, 999, 1000, 1050, 1099, 1100, 1234, 1299, 4321, 9999, 10000, 11011, 54321, 999999,
           1000000, 1250000, 4500000, 9999999, 12345678, 2 * 10**9]
STATES = ["search", "init_plan", "write", "extend_plan", "done", "odd"]
CURSORS = [None, "section-1", "section-2.3.1"]


def node(position, status="written", text="t", citations=1, children=()):
    return {"id": position, "position": position, "title": f"Title {position[8:]}", "plan": "p", "text": text,
            "status": status, "citations": citations, "children": list(children)}


OUTLINES = [
    {"status": "running", "state": "write", "step": 12, "cursor": "section-2.1",
     "counts": {"searches": 4, "extends": 1, "tokens_in": 1234, "tokens_out": 567},
     "nodes": [node("section-1", citations=3),
               node("section-2", "extended", children=[node("section-2.1", "drafting", "", 0),
                                                        node("section-2.2", "planned", "", 0)]),
               node("section-3", "planned", "")]},
    {"status": "done", "state": "done", "step": 12, "max_steps": 140, "cursor": None,
     "counts": {"searches": 1, "extends": 0, "tokens_in": 11011, "tokens_out": 999},
     "nodes": [node("section-1"), node("section-2", "locked", ""), node("section-3", "locked", "kept")]},
    {"status": "paused", "state": "search", "step": 3, "max_steps": 40, "cursor": "section-1", "counts": {},
     "nodes": []},
    {"status": "failed", "state": "init_plan", "step": 6, "cursor": None, "counts": {"tokens_in": 123456}, "nodes": []},
    {"status": "stopped", "state": "write", "step": 7, "max_steps": 20, "cursor": "section-2",
     "counts": {"searches": 2, "extends": 2, "tokens_in": 2_000_000, "tokens_out": 1}, "nodes": [node("section-1")]},
]

SCRIPT = """
import * as w from %s;
const cases = JSON.parse(process.argv[2]);
const out = {
  numbers: cases.numbers.map(n => w.shortNumber(n)),
  counts: cases.numbers.map(n => ['citations', 'searches', 'extends', 'sections', 'steps'].map(k => w.count(n, k))),
  states: cases.states.map(s => cases.cursors.map(c => w.stateLabel(s, c))),
  sections: cases.cursors.filter(c => c).map(c => w.sectionNumber(c)),
  meta: cases.outlines.map(o => w.runMeta(w.summarize(o))),
  titles: cases.outlines.map(o => w.runMetaTitle(w.summarize(o))),
  empty: ['running', 'paused', 'done', 'failed', 'stopped', ''].map(s => w.emptyOutline(s)),
  locked: w.LOCKED_UNWRITTEN,
};
process.stdout.write(JSON.stringify(out));
"""


def python_side() -> dict:
    return {
        "numbers": [wording.short_number(n) for n in NUMBERS],
        "counts": [[wording.count(n, k) for k in ("citations", "searches", "extends", "sections", "steps")]
                   for n in NUMBERS],
        "states": [[wording.state_label(s, c) for c in CURSORS] for s in STATES],
        "sections": [wording.section_number(c) for c in CURSORS if c],
        "meta": [wording.run_meta(o) for o in OUTLINES],
        "titles": [wording.run_meta_title(o) for o in OUTLINES],
        "empty": [wording.empty_outline(s) for s in ("running", "paused", "done", "failed", "stopped", "")],
        "locked": wording.LOCKED_UNWRITTEN,
    }


def test_python_and_the_live_tree_word_runs_alike(tmp_path):
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    module = tmp_path / "outline.mjs"
    module.write_text(OUTLINE_JS.read_text())
    script = tmp_path / "cases.mjs"
    script.write_text(SCRIPT % json.dumps(module.as_uri()))
    cases = {"numbers": NUMBERS, "states": STATES, "cursors": CURSORS, "outlines": OUTLINES}
    done = subprocess.run(["node", str(script), json.dumps(cases)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == python_side()


def test_the_words_themselves():
    assert [wording.short_number(n) for n in (999, 1000, 1234, 11011, 1250000, 12345678)] == [
        "999", "1k", "1.2k", "11k", "1.2M", "12M"]
    assert wording.count(1, "searches") == "1 search" and wording.count(2, "searches") == "2 searches"
    assert wording.state_label("write", "section-2.1") == "drafting 2.1"
    assert wording.state_label("search", "section-1") == "searching for 1"
    assert wording.run_meta(OUTLINES[0]) == (
        "drafting 2.1 · step 12 · 2/5 sections written · 4 searches · 1 extend · tokens 1.2k/567")
    assert wording.run_meta(OUTLINES[1]) == "step 12/140 · 2/3 sections written · 1 search · 0 extends · tokens 11k/999"


def test_the_notebook_views_use_the_shared_words():
    assert short_number(11011) == "11k" and state_label("write", "section-2.1") == "drafting 2.1"
    assert status_line(OUTLINES[0]) == wording.run_meta(OUTLINES[0])
    html = outline_html({**OUTLINES[1], "title": "T", "run_id": "r", "query": "q"})
    assert "step 12/140 · 2/3 sections written · 1 search · 0 extends · tokens 11k/999" in html
    assert "1 citation<" in html and "cit.<" not in html and ">section-1<" not in html and ">1</span> Title 1 " in html
    assert wording.LOCKED_UNWRITTEN in html  # a locked section never written says so
    text = outline_text({**OUTLINES[1], "title": "T", "run_id": "r", "query": "q"})
    assert text.splitlines()[:3] == ["T — done",
                                     "step 12/140 · 2/3 sections written · 1 search · 0 extends · tokens 11k/999",
                                     "  1 Title 1 — written, 1 citation"]
    assert "  2 Title 2 — locked, 1 citation\n    Locked before it was written." in text
    empty = outline_text({**OUTLINES[3], "title": "T", "run_id": "r", "query": "q"})
    assert empty.endswith("No outline: the run ended before a plan.")
