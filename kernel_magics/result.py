"""What ``%%warp`` binds to its variable (``warp`` unless ``--name``): the run, the
controller in step-through mode, and, displayed, the outline tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_warp.records import Step
from jupyter_warp.render import Snapshot
from jupyter_warp.report import Report
from jupyter_warp.runs import Run

from .cells import CellsOutcome, CellTarget, write_cells
from .controller import StepController
from .frontend import FrontendLink
from .outline import OutlineWidget


class WarpResult:
    """A run as the notebook holds it: ``run`` (the driver's), ``controller`` (``--step``),
    and short names for what a notebook reads most: the report tree, the steps, the
    snapshot (outline, Markdown, cells, summary)."""

    def __init__(self, run: Run, *, controller: StepController | None = None, link: FrontendLink | None = None,
                 shell: Any = None) -> None:
        self.run = run
        self.controller = controller
        self.link = link
        self.shell = shell

    @property
    def report(self) -> Report:
        return self.run.report

    @property
    def steps(self) -> list[Step]:
        return self.run.steps

    @property
    def snapshot(self) -> Snapshot:
        return self.run.snapshot()

    @property
    def run_dir(self) -> Path:
        return self.run.dir

    def save_report(self, path: str | Path) -> Path:
        """Write the report as it is now to ``path`` (``.md`` or ``.ipynb``)."""
        return self.run.finish([path]).reports[0]

    def evaluate(self, *others: Any, **options: Any) -> Any:
        """Score this run (and ``others``: run folders, submission files) side by side; the
        options are ``jupyter_warp.evaluate.evaluate``'s (``judge=``, ``criteria=``...)."""
        from jupyter_warp.evaluate.api import evaluate

        from .evaluation import EvalView

        return EvalView(evaluate([self.run.dir, *others], **options))

    def to_cells(self) -> CellsOutcome:
        """Write the report into the notebook as Markdown cells below this cell (see ``--cells``)."""
        shot = self.snapshot
        return write_cells(shot.cells, shot.markdown, self.link, CellTarget(self.shell))

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return OutlineWidget(dict(self.snapshot.outline))._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<WarpResult {self.run.run_id}: {self.snapshot.summary}>"
