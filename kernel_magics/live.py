"""What a ``%%warp`` cell shows of its run, kept true until the run ends, from any thread.

The cell's outputs, in order:

- the live widget (``--step``: the controller), in an output of its own that is emptied when
  the run ends, stops or is interrupted, so a saved notebook holds no widget view;
- the static outline (``OUTLINE_MIME`` with HTML, Markdown and text fallbacks), replaced
  after every step and edit and, at the end, with the final status: what a saved notebook,
  the extension's renderer and the runs panel show, trusted or not, with or without a kernel;
- one progress line: "loading model ..." while the model loads, then a ticking line during
  each step (state, section, seconds, a spinner, rejected replies and fallbacks), and at the
  end what was saved and the run's summary;
- with ``--cells``, the report output (``CELLS_MIME``: the extension shows a one-line note
  and inserts the cells; other viewers show its Markdown).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from jupyter_warp.errors import WarpError
from jupyter_warp.records import Step
from jupyter_warp.render import Snapshot
from jupyter_warp.runs import Run, RunHooks
from jupyter_warp.wording import run_meta, state_label

from .cells import deliver_report
from .display import EMPTY, CellDisplay, Ticker
from .frontend import FrontendLink
from .views import SPINNER, closing_line, outline_bundle, progress_line, settled_line, status_bundle


class Lines:
    """The progress output's text: a few lines, each replaceable."""

    def __init__(self, show: Callable[[str], None]) -> None:
        self.show = show
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def set(self, *lines: str) -> None:
        """Replace every line (empty ones are left out)."""
        with self._lock:
            self.lines = [line for line in lines if line]
            self.show("\n".join(self.lines))

    def add(self, line: str) -> Callable[[str], None]:
        """Append ``line``; the returned function replaces it (an empty text removes it)."""
        with self._lock:
            self.lines.append(line)
            index = len(self.lines) - 1
            self.show("\n".join(self.lines))

        def replace(new: str) -> None:
            with self._lock:
                if index < len(self.lines):
                    self.lines[index] = new
                self.show("\n".join(line for line in self.lines if line))

        return replace


class RunViews:
    """The outputs of one run (see the module's docstring); nothing is shown before ``show``."""

    def __init__(self, run: Run, *, link: FrontendLink | None = None, cells: bool = False,
                 outputs: list[str] | None = None) -> None:
        self.run = run
        self.link = link
        self.cells = cells
        self.outputs = list(outputs or [])
        self.outlines: list[CellDisplay] = []
        self.widgets: list[CellDisplay] = []
        self.progress: CellDisplay | None = None
        self.report: CellDisplay | None = None
        self.ended = False
        self.on_end: list[Callable[[Snapshot], None]] = []
        """Called once the run is over (the controller turns its editing off)."""
        self.fallbacks = sum(1 for s in run.steps if s.fallback) if run.state.step else 0
        self.lines = Lines(self._show_progress)
        self.ticker = Ticker(lambda line: self._show_progress(line, ticking=True))
        self._end_lock = threading.Lock()

    # Showing.
    def show(self, widget: Any = None, hint: str = "") -> RunViews:
        """The run's outputs in the cell being executed (see the module's docstring)."""
        if widget is not None and not self.run.done:
            self.show_widget(widget)
        self.show_outline()
        self.progress = CellDisplay(status_bundle(hint or self.settled()))
        self.lines.lines = [hint] if hint else []
        if self.cells and not self.run.done:
            self.report = CellDisplay(dict(EMPTY))
        return self

    def show_outline(self) -> CellDisplay:
        """The static outline here; replaced with every change of the run."""
        shown = CellDisplay(outline_bundle(self.run.snapshot().outline))
        self.outlines.append(shown)
        return shown

    def show_widget(self, widget: Any) -> CellDisplay | None:
        """``widget`` in an output of its own, emptied when the run ends."""
        from .outline import widget_bundle

        if self.ended:
            return None
        shown = CellDisplay(widget_bundle(widget))
        self.widgets.append(shown)
        return shown

    # Updating.
    def settled(self) -> str:
        """The line between steps: the header, rejected replies and fallbacks."""
        return settled_line(self.run.snapshot().outline, rejected=self._rejected(), fallbacks=self.fallbacks)

    def closing(self, shot: Snapshot | None = None) -> str:
        """The line of a run that is over: how it ended, its header, its time, why."""
        state = self.run.state
        return closing_line((shot or self.run.snapshot()).outline, state.wall_s, state.stop_reason)

    def _rejected(self) -> int:
        return int(self.run.state.counters.get("failed_steps", 0))

    def _show_progress(self, text: str, ticking: bool = False) -> None:
        if self.progress is not None and (not ticking or self.ticker.running):
            self.progress.update(status_bundle(text))

    def changed(self, shot: Snapshot | None = None) -> None:
        """The run changed (a step, an edit): every static outline shows it."""
        bundle = outline_bundle((shot or self.run.snapshot()).outline)
        for shown in self.outlines:
            shown.update(bundle)

    def hooks(self, extra: RunHooks | None = None) -> RunHooks:
        """The driver's hooks that keep these outputs true, then ``extra``'s."""
        extra = extra or RunHooks()

        def load(run: Run) -> None:
            spec = run.config.model
            self.ticker.start(lambda frame, s: f"{SPINNER[frame % len(SPINNER)]} loading model {spec} · {s:.0f} s")
            if extra.on_model_load:
                extra.on_model_load(run)

        def start(run: Run) -> None:
            outline = run.snapshot().outline
            doing = state_label(outline["state"], outline["cursor"])
            header = run_meta(outline, with_state=False)
            self.ticker.start(lambda frame, s: progress_line(header, doing, s, frame, rejected=self._rejected(),
                                                             fallbacks=self.fallbacks))
            if extra.on_step_start:
                extra.on_step_start(run)

        def stepped(run: Run, step: Step, shot: Snapshot) -> None:
            self.ticker.stop()
            self.fallbacks += bool(step.fallback)
            self.changed(shot)
            self.lines.set(self.settled())
            if extra.on_step:
                extra.on_step(run, step, shot)

        def failed(run: Run, exc: BaseException) -> None:
            self.ticker.stop()
            if extra.on_error:
                extra.on_error(run, exc)

        return RunHooks(on_step_start=start, on_step=stepped, on_error=failed, on_model_load=load)

    def say(self, text: str) -> Callable[[str], None]:
        """A line in the progress output (kept after the end)."""
        return self.lines.add(text)

    def halted(self, why: str) -> None:
        """Steps stopped without the run ending (an error, Pause): the outline as it is, and why."""
        self.ticker.stop()
        self.changed()
        self.lines.set(self.settled(), why)

    # The end.
    def end(self, next_input: Callable[[str], None] | None = None, note: str = "") -> None:
        """The run is over (done, failed or stopped): save the reports, show the final outline,
        empty the widget outputs, deliver the report; once, from any thread. ``note`` is a
        line to keep above the summary (why it stopped)."""
        with self._end_lock:
            if self.ended:
                return
            self.ended = True
        self.ticker.stop()
        lines: list[str] = []
        try:
            result = self.run.finish(self.outputs)
            shot = result.snapshot
            lines += [f"report saved to {path}" for path in result.reports]
        except WarpError as exc:
            shot = self.run.snapshot()
            lines.append(f"{type(exc).__name__}: {exc}")
        self.changed(shot)
        for callback in self.on_end:
            callback(shot)
        for shown in self.widgets:
            shown.clear()
        self.lines.set(note, *lines, self.closing(shot))
        if self.cells:
            show = self.report.update if self.report is not None else _display
            outcome = deliver_report(shot.cells, shot.markdown, self.link, show, next_input=next_input, say=self.say)
            if outcome.message:
                self.say(outcome.message)


def _display(bundle: dict[str, Any]) -> None:
    CellDisplay(bundle)
