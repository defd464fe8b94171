"""The report as notebook cells: one output carrying the cells, then whatever the frontend can do.

With the JupyterLab extension the cells are inserted into the live document over the comm.
JupyterLab without it gets the whole report as the next cell (``set_next_input``), and is
told so. Headless (nbclient, papermill) the output itself is the report, and
``expand_report_cells`` turns it into real cells of the executed notebook afterwards.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from jupyter_warp.errors import WarpError
from jupyter_warp.mime import CELL_METADATA_KEY, CELLS_MIME
from jupyter_warp.render import CellsPayload
from jupyter_warp.runs import Run

from .frontend import LIVE, NO_EXTENSION, FrontendLink
from .views import escape_markdown, markdown_html, status_bundle

Updater = Callable[[str], None]


class CellTarget:
    """Outputs of the cell being executed: the report output, messages that can be updated,
    and ``set_next_input``."""

    keep_report_when_inserted = True
    """A notebook output: the extension and ``expand_report_cells`` find the report in it."""

    def __init__(self, shell: Any = None) -> None:
        self.shell = shell

    def emit(self, bundle: dict[str, Any]) -> None:
        from IPython.display import display

        display(bundle, raw=True)

    def say(self, text: str) -> Updater:
        from IPython.display import display

        handle = display(status_bundle(text), raw=True, display_id=True)
        return lambda new: handle.update(status_bundle(new), raw=True) if handle is not None else None

    @property
    def set_next_input(self) -> Callable[[str], None] | None:
        if self.shell is None:
            return None
        return lambda text: self.shell.set_next_input(text, replace=False)


class WidgetTarget:
    """An ``Output`` widget, for what a button or a worker thread produces: outputs made
    there belong to no cell, and the widget's ``outputs`` trait syncs from any thread."""

    set_next_input = None
    keep_report_when_inserted = False
    """Widget outputs are not notebook outputs: once the cells are in, the copy would only repeat them."""

    def __init__(self, out: Any) -> None:
        self.out = out

    def emit(self, bundle: dict[str, Any]) -> None:
        self.out.outputs = tuple(self.out.outputs) + ({"output_type": "display_data", "data": bundle, "metadata": {}},)

    def say(self, text: str) -> Updater:
        self.out.append_stdout(text + "\n")
        return lambda new: self.out.append_stdout(new + "\n")


Target = CellTarget | WidgetTarget


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
    mode: str
    """``sent``, ``queued``, ``next-input``, ``output`` (headless: the output is the report)."""
    count: int
    message: str

    def __repr__(self) -> str:
        return f"CellsOutcome(mode={self.mode!r}, count={self.count})"


def write_cells(payload: CellsPayload, markdown: str, link: FrontendLink | None, target: Target) -> CellsOutcome:
    """Emit the report output, then insert its cells where the frontend allows it.

    The extension's answer (``inserted``) arrives after the cell has finished; the message
    shown here is updated with it.
    """
    live = link is not None and link.mode == LIVE
    if not live or target.keep_report_when_inserted:
        target.emit(cells_bundle(payload, markdown))
    n = len(payload.get("cells", []))
    next_input = target.set_next_input
    if live:
        link.insert_cells(payload)
        outcome = CellsOutcome("sent", n, f"{n} report cells sent to the JupyterLab extension, "
                                          "which inserts them below this cell")
    elif link is not None and link.mode == NO_EXTENSION:
        if next_input is not None:
            next_input(markdown)
            outcome = CellsOutcome("next-input", 1, "the jupyter-warp JupyterLab extension is not installed, so the "
                                   "report is not split into cells: the whole report is in the next cell as text "
                                   "(Esc M makes it Markdown) and in the output above")
        else:
            outcome = CellsOutcome("output", 0, "the jupyter-warp JupyterLab extension is not installed: "
                                   "the report is the output above")
    elif link is not None and link.insert_cells(payload) == "queued":
        outcome = CellsOutcome("queued", n, f"the report is the output above; its {n} cells go to the JupyterLab "
                               "extension when it answers (headless runs: `--out report.ipynb`, or "
                               "`kernel_magics.expand_report_cells` on the executed notebook)")
    else:
        outcome = CellsOutcome("output", 0, "no notebook frontend: the report is the Markdown output above "
                               "(`--out report.ipynb` writes it as a notebook)")
    update = target.say(outcome.message)
    if link is not None and outcome.mode in ("sent", "queued"):
        run_id = payload.get("run_id")

        def answered(rid: str, count: int, error: str | None) -> None:
            if rid != run_id:
                return
            link.on_inserted.remove(answered)
            if error:
                update(f"the JupyterLab extension could not insert the report: {error}; the report is the output above")
            elif count:
                update(f"{count} report cells inserted below this cell")
            else:
                update("the report's cells are already in this notebook (nothing inserted)")

        link.on_inserted.append(answered)
    return outcome


def finish(run: Run, target: Target, *, outputs: list[str], cells: bool, link: FrontendLink | None,
           say: Callable[[str], object] | None = None) -> None:
    """A run that ended (or stopped): the report to ``outputs`` and into cells, as asked,
    then its one closing line. The same for a streamed run and a step-through one;
    ``say`` (default: the target's) tells the user what was saved."""
    tell = say or target.say
    try:
        result = run.finish(outputs)
        for path in result.reports:
            tell(f"report saved to {path}")
        if cells:
            write_cells(result.snapshot.cells, result.snapshot.markdown, link, target)
        if say is None:
            tell(result.summary)
    except WarpError as exc:
        tell(f"{type(exc).__name__}: {exc}")


def in_main_thread() -> bool:
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

    Idempotent per run id: a run whose cells the notebook already holds is skipped. The
    notebook is changed in place and returned.
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
            for c in payload.get("cells", []):
                source = c.get("source", "")
                source = "".join(source) if isinstance(source, list) else source
                meta = dict(c.get("metadata") or {})
                meta[CELL_METADATA_KEY] = {**(meta.get(CELL_METADATA_KEY) or {}), "run_id": run_id}
                kind = c.get("cell_type", "markdown")
                maker = {"markdown": nbformat.v4.new_markdown_cell, "raw": nbformat.v4.new_raw_cell,
                         "code": nbformat.v4.new_code_cell}.get(kind, nbformat.v4.new_markdown_cell)
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
