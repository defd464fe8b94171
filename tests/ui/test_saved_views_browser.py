"""A saved, trusted notebook reopened with no kernel, in a real JupyterLab (issue 16):

- the ``%%warp`` cell shows the final tree from its static outline output;
- the report output renders as a one-line note, so the report appears once (as the cells
  below), and "Insert again" inserts once per run;
- the runs panel shows each run's true state, one line of badges, and jumps to the
  ``%%warp`` cell, not to a later cell that displayed the same run;
- References link to the file, which JupyterLab opens (at the heading or page);
- in the dark and high-contrast themes every badge keeps WCAG AA contrast (computed colours).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from contrast import AA, below_aa, contrasts, set_theme
from labserver import run_lab

from notebooks import RUN_ID, SECTIONS, STEP_RUN_ID, TITLE, write_saved_notebook

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "kernel_magics" / "static"
CURRENT = "window.jupyterapp.shell.currentWidget"


@pytest.fixture
def saved_lab(tmp_path: Path):
    """JupyterLab with no kernel, serving the saved notebook and the files it cites."""
    data_dir = tmp_path / "jupyter" / "data"
    with run_lab(tmp_path, kernels=False, prepare=lambda root: write_saved_notebook(root, data_dir)) as lab:
        yield lab


def open_saved(page, lab) -> None:
    page.goto(lab.doc_url("saved.ipynb"))
    page.locator('.jp-WarpOutline [data-position="section-3"]').first.wait_for(state="attached", timeout=60_000)
    dialog = page.locator(".jp-Dialog")
    try:  # no kernelspec exists, so JupyterLab may ask for one: answer "no kernel"
        dialog.wait_for(state="visible", timeout=3000)
        dialog.locator(".jp-mod-reject").first.click()
        dialog.wait_for(state="detached", timeout=5000)
    except Exception:
        pass


def cells(page) -> list[dict]:
    return page.evaluate(f"""() => {CURRENT}.content.model.sharedModel.cells.map(
        c => ({{type: c.cell_type, source: c.getSource(), warp: c.getMetadata('jupyter_warp') ?? null}}))""")


def show_runs(page):
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-warp:show-runs')")
    page.locator(f'.jp-WarpRuns-item[data-run-id="{STEP_RUN_ID}"]').wait_for(timeout=10_000)


def test_saved_notebook_shows_final_tree_one_report_and_true_runs(page, saved_lab, screenshot):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_saved(page, saved_lab)
    assert page.evaluate(f"() => {CURRENT}.sessionContext.session?.kernel ?? null") is None
    assert page.evaluate(f"() => {CURRENT}.content.widgets[1].model.trusted") is True

    # The %%warp cell: the final tree, from the saved output alone (no "Loading widget...").
    run_cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
    tree = run_cell.locator(".jp-WarpOutline")
    assert tree.count() == 1
    assert tree.locator(".jp-WarpOutline-runStatus").inner_text() == "done"
    assert tree.locator(".jp-WarpOutline-meta").inner_text() == (
        "step 12/40 · 5/5 sections written · 4 searches · 1 extend · tokens 1.2k/567")
    assert tree.locator(".jp-WarpOutline-citations").all_inner_texts()[:2] == ["1 citation", "1 citation"]
    assert run_cell.locator(".jp-WarpOutline [data-cursor]").count() == 0
    assert "Loading widget" not in run_cell.inner_text()

    # The report output is a note; the report itself is only in the cells below.
    note = run_cell.locator(".jp-WarpReport")
    assert note.inner_text() == "Report: 3 sections + References, inserted below · Insert again"
    assert page.locator(f".jp-Notebook :text('{SECTIONS[0][2]}'):visible").count() == 1
    assert page.locator(f".jp-OutputArea :text('{SECTIONS[0][2]}'):visible").count() == 0
    before = cells(page)
    note.locator("button", has_text="Insert again").click()
    assert "already in this notebook" in note.inner_text()
    assert cells(page) == before

    # Deleted, then inserted again from the note: once, right below the %%warp cell.
    page.evaluate(f"() => {CURRENT}.content.model.sharedModel.deleteCellRange(2, 6)")
    page.wait_for_function("() => document.querySelector('.jp-WarpReport').textContent.includes('not in this')")
    assert note.inner_text() == "Report: 3 sections + References, not in this notebook · Insert below"
    note.locator("button", has_text="Insert below").click()
    note.locator("button", has_text="Insert again").wait_for()
    after = cells(page)
    assert [c["warp"]["position"] for c in after[2:6]] == ["section-1", "section-2", "section-3", "references"]
    assert len(after) == len(before)
    note.locator("button", has_text="Insert again").click()
    assert len(cells(page)) == len(before)

    # The runs panel: the true state of each run, one line each, and a jump to the %%warp cell.
    show_runs(page)
    done = page.locator(f'.jp-WarpRuns-item[data-run-id="{RUN_ID}"]')
    assert done.locator(".jp-WarpRuns-title").inner_text() == TITLE
    assert done.locator(".jp-WarpRuns-status").inner_text() == "done"
    assert done.locator(".jp-WarpRuns-meta").inner_text() == "step 12/40 · 5/5 sections"
    left = page.locator(f'.jp-WarpRuns-item[data-run-id="{STEP_RUN_ID}"]')
    assert left.locator(".jp-WarpRuns-status").inner_text() == "stopped"
    assert "its kernel is gone" in left.get_attribute("title")
    rows = contrasts(page, ".jp-WarpRuns-status, .jp-WarpRuns-title, .jp-WarpRuns-meta")
    assert rows and all(row["oneLine"] for row in rows), rows
    page.evaluate(f"() => {{ {CURRENT}.content.activeCellIndex = 8; }}")
    done.click()
    assert page.evaluate(f"() => {CURRENT}.content.activeCellIndex") == 1
    left.click()
    assert page.evaluate(f"() => {CURRENT}.content.activeCellIndex") == 7
    done.click()
    page.wait_for_timeout(300)
    screenshot(page, "saved_light_runs.png")
    assert not errors, errors


def test_references_link_to_the_files_jupyterlab_opens(page, saved_lab):
    open_saved(page, saved_lab)
    references = page.locator(".jp-Notebook .jp-MarkdownCell", has_text="References")
    references.scroll_into_view_if_needed()
    link = references.locator("a", has_text="docs/warp notes.md")
    link.click()
    page.wait_for_function(f"() => {CURRENT}?.context?.path === 'docs/warp notes.md'", timeout=20_000)
    # At the cited heading: the viewer scrolled it into view.
    heading = page.locator(".jp-MarkdownViewer h2", has_text="Drafting and deepening")
    heading.wait_for(timeout=10_000)
    page.wait_for_function(
        """() => { const h = [...document.querySelectorAll('.jp-MarkdownViewer h2')]
                     .find(e => e.textContent.includes('Drafting and deepening'));
                   const r = h.getBoundingClientRect(); return r.top >= 0 && r.top < window.innerHeight; }""",
        timeout=10_000)
    page.evaluate("() => window.jupyterapp.commands.execute('application:close')")
    references = page.locator(".jp-Notebook .jp-MarkdownCell", has_text="References")
    references.locator("a", has_text="papers/paper.pdf").click()
    page.wait_for_function(f"() => {CURRENT}?.context?.path === 'papers/paper.pdf'", timeout=20_000)


LIVE_TREE_JS = """async ([js, css, outline]) => {
  const style = document.createElement('style');
  style.textContent = css;
  document.head.appendChild(style);
  const mod = await import(URL.createObjectURL(new Blob([js], {type: 'text/javascript'})));
  const state = {outline, selected: 'section-2', editable: true, busy: false, message: ''};
  const model = {get: k => state[k], set: (k, v) => { state[k] = v; }, save_changes() {}, send() {},
                 on() {}, off() {}};
  const host = document.createElement('div');
  host.className = 'warp-test-host';
  document.querySelectorAll('.jp-Notebook .jp-Cell')[1].querySelector('.jp-OutputArea-output').appendChild(host);
  mod.default.render({model, el: host});
}"""


def mount_live_tree(page, outline: dict) -> None:
    """outline.js and outline.css as anywidget loads them, in the page, on a stand-in model."""
    js = (STATIC / "outline.js").read_text()
    css = (STATIC / "outline.css").read_text()
    page.evaluate(LIVE_TREE_JS, [js, css, outline])
    page.locator(".warp-test-host .warp-node-row.warp-selected").wait_for()


@pytest.mark.parametrize("theme", ["JupyterLab Dark", "JupyterLab Dark High Contrast", "JupyterLab Light"])
def test_badges_and_selected_row_meet_wcag_aa(page, saved_lab, screenshot, theme):
    from notebooks import outline

    open_saved(page, saved_lab)
    set_theme(page, theme)
    page.locator(".jp-Notebook .jp-Cell").nth(1).scroll_into_view_if_needed()
    show_runs(page)
    mount_live_tree(page, outline(status="running", state="write", cursor="section-3"))
    selectors = {
        "static badges": ".jp-WarpOutline .jp-WarpStatus",
        "static cursor row": ".jp-WarpOutline-node[data-cursor='true'] > details > summary > span:not(.jp-WarpStatus)",
        "runs panel badges": ".jp-WarpRuns-status",
        "runs panel text": ".jp-WarpRuns-title, .jp-WarpRuns-meta",
        "live badges": ".warp-test-host .warp-badge",
        "selected row": ".warp-test-host .warp-selected > span",
        "live buttons": ".warp-test-host button.warp-button",
        "report note": ".jp-WarpReport-summary, .jp-WarpReport-insert",
    }
    for what, selector in selectors.items():
        rows = contrasts(page, selector)
        assert rows, f"nothing matched {what} ({selector})"
        assert not below_aa(rows), f"{theme}, {what}: below {AA}:1: {below_aa(rows)}"
        if "badges" in what:
            assert all(row["oneLine"] for row in rows), f"{theme}, {what} wrap: {rows}"
    name = theme.lower().replace("jupyterlab ", "").replace(" ", "_")
    page.locator(".warp-test-host").scroll_into_view_if_needed()
    screenshot(page, f"tree_{name}.png")
