"""What ``%%warp`` binds to its variable (``warp`` unless ``--name``): the run, the
controller in step-through mode, and, displayed, the static outline (kept true while the run
goes on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_warp.records import Step
from jupyter_warp.render import Snapshot
from jupyter_warp.report import Report
from jupyter_warp.runs import Run

from .cells import CellsOutcome, deliver_report, next_input_of
from .controller import StepController
from .frontend import FrontendLink
from .live import RunViews
from .views import outline_bundle


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
        self._views: RunViews | None = None

    @property
    def views(self) -> RunViews | None:
        """The ``%%warp`` cell's outputs: the controller's in step-through mode, else those
        ``stream_run`` made (set once it returns)."""
        return self.controller.views if self.controller is not None else self._views

    @views.setter
    def views(self, views: RunViews | None) -> None:
        self._views = views

    @property
    def report(self) -> Report:
        """The report tree as it is now."""
        return self.run.report

    @property
    def steps(self) -> list[Step]:
        """Every step taken, with its prompt, reply, action and passages."""
        return self.run.steps

    @property
    def snapshot(self) -> Snapshot:
        """The run as every view shows it: outline, Markdown, cells, summary."""
        return self.run.snapshot()

    @property
    def run_dir(self) -> Path:
        """Where the run is kept (``%warp_resume`` takes it)."""
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
        from IPython.display import display

        shot = self.snapshot
        outcome = deliver_report(shot.cells, shot.markdown, self.link, lambda bundle: display(bundle, raw=True),
                                 next_input=next_input_of(self.shell))
        if outcome.message:
            print(outcome.message)
        return outcome

    def _ipython_display_(self) -> None:
        """The static outline; while the run goes on, it follows it like the ``%%warp`` cell's."""
        from IPython.display import display

        if self.views is not None and not self.run.done:
            self.views.show_outline()
        else:
            display(outline_bundle(self.snapshot.outline), raw=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return outline_bundle(self.snapshot.outline)

    def __repr__(self) -> str:
        return f"<WarpResult {self.run.run_id}: {self.snapshot.summary}>"
