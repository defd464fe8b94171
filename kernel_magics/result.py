"""What ``%%warp`` binds to its variable (``warp`` unless ``--name``): the run, its report,
its steps, the controller in step-through mode, and ways to get the report out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_warp.records import Step
from jupyter_warp.report import Report
from jupyter_warp.runs import Run

from .cells import CellsOutcome, CellTarget, write_cells
from .controller import StepController
from .frontend import FrontendLink
from .outline import OutlineWidget


class WarpResult:
    """A run as the notebook sees it; displayed, it is the outline tree."""

    def __init__(self, run: Run, *, controller: StepController | None = None, link: FrontendLink | None = None,
                 shell: Any = None) -> None:
        self.run = run
        self.controller = controller
        self.link = link
        self.shell = shell
        self._tree: OutlineWidget | None = None

    @property
    def report(self) -> Report:
        return self.run.report

    @property
    def steps(self) -> list[Step]:
        return self.run.steps

    @property
    def run_dir(self) -> Path:
        return self.run.dir

    @property
    def cells(self) -> dict[str, Any]:
        """The report as the ``CELLS_MIME`` payload (one cell per top-level section, References)."""
        return self.run.to_cells()

    def outline(self) -> dict[str, Any]:
        return self.run.outline()

    def to_markdown(self) -> str:
        return self.run.to_markdown()

    def save_report(self, path: str | Path) -> Path:
        return self.run.save_report(path)

    def summary_line(self) -> str:
        return self.run.summary_line()

    def to_cells(self) -> CellsOutcome:
        """Write the report into the notebook as Markdown cells below this cell (see ``--cells``)."""
        return write_cells(self.run.to_cells(), self.run.to_markdown(), self.link, CellTarget(self.shell))

    def tree(self) -> OutlineWidget:
        """A read-only outline widget of the run as it is now."""
        if self._tree is None:
            self._tree = OutlineWidget(self.run.outline())
        else:
            self._tree.outline = self.run.outline()
        return self._tree

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.tree()._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<WarpResult {self.run.run_id}: {self.run.summary_line()}>"
