"""The report as notebook cells: one output carrying the cells, then whatever the frontend can do.

With the JupyterLab extension the output renders as a one-line note and the cells are
inserted into the live document over the comm. JupyterLab without it gets the whole report
as the next cell (``set_next_input``), and is told so. Headless (nbclient, papermill) the
output itself is the report, and ``expand_report_cells`` turns it into real cells of the
executed notebook afterwards. A payload only ever adds Markdown and raw cells.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from jupyter_warp.mime import CELL_METADATA_KEY, CELLS_MIME
from jupyter_warp.render import CellsPayload

from .frontend import LIVE, NO_EXTENSION, FrontendLink
from .views import escape_markdown, markdown_html

Say = Callable[[str], Callable[[str], None]]
"""Shows a line of text and returns a function that replaces it ("" removes it)."""

INSERTED_TYPES = ("markdown", "raw")
"""The only cells a report payload may add to a notebook: nothing inserted ever runs."""


def cells_bundle(payload: CellsPayload, markdown: str) -> dict[str, Any]:
    """The output that carries the report: the cells for the extension, readable text for the rest."""
    return {
        CELLS_MIME: payload,
        "text/html": markdown_html(markdown),
        "text/markdown": escape_markdown(markdown),
        "text/plain": markdown,
    }


@dataclass(repr=False)
class CellsOutcome:
    """What became of a report: how it reached the notebook, and what to tell the user."""

    mode: str
    """``sent`` (the extension inserts the cells and its note says so), ``queued`` (sent when
    the extension answers), ``next-input`` (the report as the next cell), ``output`` (the
    report is this cell's Markdown output: headless, or no extension)."""
    count: int
    message: str
    """What to tell the user; empty when the extension's note says it."""

    def __repr__(self) -> str:
        return f"CellsOutcome(mode={self.mode!r}, count={self.count})"


def deliver_report(payload: CellsPayload, markdown: str, link: FrontendLink | None,
                   show: Callable[[dict[str, Any]], object], *, next_input: Callable[[str], None] | None = None,
                   say: Say | None = None) -> CellsOutcome:
    """Show the report output with ``show``, then have its cells inserted where the frontend can.

    With the extension, the output renders as a one-line note and the cells are inserted
    over the comm: nothing more is said, unless the extension answers with an error (which
    ``say`` shows; the extension's answer arrives after the cell has finished).
    """
    show(cells_bundle(payload, markdown))
    n = len(payload.get("cells", []))
    mode = link.mode if link is not None else None
    if mode == LIVE:
        assert link is not None
        link.insert_cells(payload)
        outcome = CellsOutcome("sent", n, "")
    elif mode == NO_EXTENSION and next_input is not None:
        next_input(markdown)
        outcome = CellsOutcome("next-input", 1, "the jupyter-warp JupyterLab extension is not installed, so the "
                               "report is not split into cells: the whole report is in the next cell as text "
                               "(Esc M makes it Markdown) and in this cell's output")
    elif mode == NO_EXTENSION:
        outcome = CellsOutcome("output", 0, "the jupyter-warp JupyterLab extension is not installed: "
                               "the report is this cell's output")
    elif link is not None and link.insert_cells(payload) == "queued":
        outcome = CellsOutcome("queued", n, f"the report is this cell's output; its {n} cells go to the JupyterLab "
                               "extension when it answers (headless runs: `--out report.ipynb`, or "
                               "`kernel_magics.expand_report_cells` on the executed notebook)")
    else:
        outcome = CellsOutcome("output", 0, "no notebook frontend: the report is this cell's Markdown output "
                               "(`--out report.ipynb` writes it as a notebook)")
    if link is not None and outcome.mode in ("sent", "queued"):
        _follow_answer(link, payload.get("run_id"), outcome, say)
    return outcome


def next_input_of(shell: Any) -> Callable[[str], None] | None:
    """How ``deliver_report`` puts the report in the next cell (JupyterLab without the
    extension): the shell's ``set_next_input``; None without a shell."""
    if shell is None:
        return None
    return lambda text: shell.set_next_input(text, replace=False)


def _follow_answer(link: FrontendLink, run_id: str | None, outcome: CellsOutcome, say: Say | None) -> None:
    """When the extension answers: a queued message goes (its note says the rest); an error stays."""
    holder: list[Callable[[str], None]] = []
    if outcome.message and say is not None:
        holder.append(say(outcome.message))
        outcome.message = ""  # shown here, so that the caller does not show it again

    def answered(rid: str, count: int, error: str | None) -> None:
        if rid != run_id:
            return
        link.on_inserted.remove(answered)
        text = f"the JupyterLab extension could not insert the report: {error}" if error else ""
        if holder:
            holder[0](text)
        elif text and say is not None:
            say(text)

    link.on_inserted.append(answered)


def in_main_thread() -> bool:
    """Whether this is the kernel's main thread (a cell, not a worker or a button's thread)."""
    return threading.current_thread() is threading.main_thread()


# Headless: the executed notebook, post-processed.
def _payloads(cell: Any) -> list[dict[str, Any]]:
    found = []
    for output in cell.get("outputs", []):
        data = output.get("data") or {}
        if CELLS_MIME in data:
            payload = data[CELLS_MIME]
            if isinstance(payload, (str, list)):
                payload = json.loads("".join(payload))
            if isinstance(payload, dict) and payload.get("run_id"):
                found.append(payload)
    return found


def _run_id(cell: Any) -> str | None:
    meta = (cell.get("metadata") or {}).get(CELL_METADATA_KEY) or {}
    return meta.get("run_id") if isinstance(meta, dict) else None


def expand_report_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Turn every output carrying ``CELLS_MIME`` into Markdown cells right below its cell.

    Idempotent per run id: a run whose cells the notebook already holds is skipped. A payload
    with a cell other than Markdown or raw (a code cell would run) is not inserted, with a
    warning. The notebook is changed in place and returned.
    """
    present = {rid for rid in (_run_id(c) for c in nb.cells) if rid}
    cells: list[Any] = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.get("cell_type") != "code":
            continue
        latest: dict[str, dict[str, Any]] = {}
        for payload in _payloads(cell):
            latest[payload["run_id"]] = payload  # a streamed output may have been updated: the last wins
        for run_id, payload in latest.items():
            if run_id in present:
                continue
            kinds = [c.get("cell_type", "markdown") for c in payload.get("cells", [])]
            if any(kind not in INSERTED_TYPES for kind in kinds):
                bad = next(i for i, kind in enumerate(kinds, 1) if kind not in INSERTED_TYPES)
                warnings.warn(f"the report of run {run_id} was not inserted: its cell {bad} is a {kinds[bad - 1]} "
                              "cell, and a report inserts only Markdown and raw cells", stacklevel=2)
                continue
            for c in payload.get("cells", []):
                source = c.get("source", "")
                source = "".join(source) if isinstance(source, list) else source
                meta = dict(c.get("metadata") or {})
                meta[CELL_METADATA_KEY] = {**(meta.get(CELL_METADATA_KEY) or {}), "run_id": run_id}
                maker = nbformat.v4.new_raw_cell if c.get("cell_type") == "raw" else nbformat.v4.new_markdown_cell
                cells.append(maker(source, metadata=meta))
            present.add(run_id)
    nb.cells = cells
    return nb


def expand_notebook(path: str | Path, out: str | Path | None = None) -> Path:
    """``expand_report_cells`` on a notebook file, written to ``out`` (default: in place)."""
    nb = nbformat.read(str(path), as_version=4)
    target = Path(out or path)
    nbformat.write(expand_report_cells(nb), str(target))
    return target
