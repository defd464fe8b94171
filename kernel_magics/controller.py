"""The step-through controller: Step, Run, Pause and Stop buttons, the live outline tree,
and what the last step did (state, thought, action, passages, changes).

Buttons never block the kernel: Step and Run hand the steps to a worker thread, where the
run driver steps until the pause flag is set; Pause and Stop only set flags. Outline edits
wait for a step in progress and are applied between two steps. ``step()``, ``start()``,
``run_to_end()``, ``pause()``, ``stop()``, ``wait()`` and ``edit()`` do the same from code.
The ``%%warp --step`` cell's outputs (``views``: the static outline, the progress line, the
report) follow the run from whichever thread or cell moves it; the controller's own output
is emptied when the run ends.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

import ipywidgets

from jupyter_warp.errors import ConfigError, WarpError
from jupyter_warp.records import Step
from jupyter_warp.render import Snapshot
from jupyter_warp.runs import Run, RunHooks, resume_hint

from .cells import in_main_thread, next_input_of
from .frontend import FrontendLink
from .live import RunViews
from .outline import OutlineWidget
from .stepview import step_html
from .views import state_label, status_bundle

PAUSING = "pausing after the current step"


class StepController:
    """Drives one run a step at a time; ``widget`` is what the cell shows while the run is live."""

    def __init__(self, run: Run, *, link: FrontendLink | None = None, cells: bool = False,
                 outputs: list[str] | None = None, shell: Any = None,
                 on_finish: Callable[[StepController], None] | None = None) -> None:
        self.run = run
        self.shell = shell
        self.on_finish = on_finish
        self.stopped = False
        self.finished = run.done
        self.error: BaseException | None = None
        self.last_step: Step | None = run.steps[-1] if run.steps else None
        self.views = RunViews(run, link=link, cells=cells, outputs=outputs)
        """The ``%%warp`` cell's outputs: static outline, progress line, report."""
        self.views.on_end.append(lambda shot: self._read_only())

        self._lock = threading.RLock()
        """Held while the run steps or an edit is applied: one change of the run at a time."""
        self._pause = threading.Event()
        self._thread: threading.Thread | None = None
        self._queued: list[tuple[str, str | None, dict[str, Any]]] = []

        self.log = ipywidgets.Output(layout=ipywidgets.Layout(max_height="160px", overflow="auto"))
        """Tracebacks of bugs in callbacks; a user's error is one line in the progress output."""
        self.outline = OutlineWidget(run.snapshot().outline, on_edit=self.edit, errors=self.log)
        self.step_button = self._button("Step", "take one model turn", self._click_step, "step-forward")
        self.run_button = self._button("Run", "step until the end (Pause stops after the current step)",
                                       self._click_run, "play")
        self.pause_button = self._button("Pause", "stop after the current step; Step or Run continue",
                                         self._click_pause, "pause")
        self.stop_button = self._button("Stop", "end the run with the report as it is", self._click_stop, "stop")
        self.status = ipywidgets.HTML(layout=ipywidgets.Layout(flex="1 1 auto", min_width="0"))
        self.detail = ipywidgets.HTML()
        bar = ipywidgets.HBox([self.step_button, self.run_button, self.pause_button, self.stop_button, self.status],
                              layout=ipywidgets.Layout(align_items="center"))
        self.widget = ipywidgets.VBox([bar, self.outline, self.detail, self.log])
        self.widget.add_class("warp-controller")
        self.refresh()

    def _button(self, label: str, tooltip: str, handler: Callable[[Any], None], icon: str) -> ipywidgets.Button:
        b = ipywidgets.Button(description=label, tooltip=tooltip, icon=icon,
                              layout=ipywidgets.Layout(width="auto", flex="0 0 auto"))  # never cut to "St…"
        b.on_click(handler)
        return b

    # What a cell shows.
    def show(self, hint: str = "") -> StepController:
        """The controller and the run's outputs in the cell being executed (``%%warp --step``)."""
        self.views.show(self.widget, hint=self.views.closing() if self.done else hint)
        return self

    def _ipython_display_(self) -> None:
        """Displayed again (``warp.controller``): the controls while the run is live, and the
        static outline, both kept true like the ``%%warp`` cell's."""
        if not self.done:
            self.views.show_widget(self.widget)
        self.views.show_outline()

    # State.
    @property
    def running(self) -> bool:
        """Steps are being taken in the worker thread."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def done(self) -> bool:
        """The run takes no more steps (done, failed or stopped)."""
        return self.run.done or self.stopped

    def next_label(self) -> str:
        """What the next step does, or how the run ended (``done: every section written``)."""
        s = self.run.state
        if self.done:
            return f"{s.status.value}: {s.stop_reason}" if s.stop_reason else s.status.value
        return state_label(s.state, self.run.snapshot().outline["cursor"])

    def status_text(self) -> str:
        """The run's header line, with the rejected replies and fallbacks so far."""
        return self.views.settled()

    def refresh(self, shot: Snapshot | None = None) -> None:
        """Push the run's state into the widgets, the outline in one message.

        While the worker holds the run (mid-step), only the buttons change: the worker
        refreshes everything when its step ends.
        """
        if self._lock.acquire(blocking=False):
            try:
                shot = shot or self.run.snapshot()
                with self.outline.hold_sync():
                    self.outline.outline = dict(shot.outline)
                    self.outline.busy = self.running
                    self.outline.editable = not self.done
                self.status.value = status_bundle(self.status_text())["text/html"]
                label = self.next_label()
                self.detail.value = step_html(self.last_step, "" if self.done else label, label if self.done else "")
            finally:
                self._lock.release()
        else:
            self.outline.busy = True
        idle = not self.running
        self.step_button.disabled = self.run_button.disabled = not idle or self.done
        self.pause_button.disabled = idle
        self.stop_button.disabled = self.done and idle

    def _read_only(self) -> None:
        with self.outline.hold_sync():
            self.outline.editable = False
            self.outline.busy = False

    # Stepping: the driver's loop, with this controller's hooks and pause flag.
    def _hooks(self) -> RunHooks:
        def before(run: Run) -> None:
            self._apply_queued()

        def after(run: Run, step: Step, shot: Snapshot) -> None:
            self.last_step, self.error = step, None
            self.refresh(shot)

        def failed(run: Run, exc: BaseException) -> None:
            self.error = exc
            self.refresh()

        return self.views.hooks(RunHooks(on_step_start=before, on_step=after, on_error=failed))

    def _steps(self, max_steps: int | None) -> list[Step]:
        with self._lock:
            taken = len(self.run.steps)
            self.run.run(max_steps, hooks=self._hooks(), stop=self._pause)
            self._apply_queued()
            return self.run.steps[taken:]

    def step(self, n: int = 1) -> list[Step]:
        """Take ``n`` steps now, in this thread; returns them (fewer if the run ends or Ctrl-C)."""
        if self.running:
            raise ConfigError("the run is stepping in the background: pause it first (controller.pause())")
        if self.done:
            return []
        self._pause.clear()
        taken = len(self.run.steps)
        try:
            steps = self._steps(n)
        except WarpError as exc:
            self.views.halted(f"{type(exc).__name__}: {exc}")
            print(resume_hint(self.run.dir, notebook=True) + ", or step again")
            raise
        except KeyboardInterrupt:
            self.views.halted("interrupted: Step or Run goes on from here")
            print("interrupted: Step or Run goes on from here")
            steps = self.run.steps[taken:]
        self._maybe_finish()
        return steps

    def start(self, max_steps: int | None = None) -> threading.Thread | None:
        """Step in a worker thread until the end, a pause, or ``max_steps`` steps."""
        if self.running or self.done:
            return None
        self._pause.clear()
        self._thread = threading.Thread(target=self._work, args=(max_steps,), name="warp-steps", daemon=True)
        self._thread.start()
        self.refresh()
        return self._thread

    def run_to_end(self, background: bool = True) -> StepController:
        """Run until done; ``background=False`` blocks this cell until then."""
        if background:
            self.start()
        else:
            self.step(self.run.config.max_steps)
        return self

    def _work(self, max_steps: int | None) -> None:
        try:
            self._steps(max_steps)
        except WarpError as exc:
            self.views.halted(f"{type(exc).__name__}: {exc} · {resume_hint(self.run.dir, notebook=True)}, "
                              "or press Step or Run to try again")
        except BaseException:
            self.views.halted("error: see the traceback in the controller")
            self.log.append_stderr(traceback.format_exc())
        finally:
            self._thread = None
            if self.outline.message == PAUSING:
                self.outline.message = ""
            if self.stopped:
                self._mark_stopped()
            self._maybe_finish(background=True)
            self.refresh()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background steps to end; True when they have."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def pause(self) -> None:
        """Stop stepping after the current step; Step and Run continue later."""
        self._pause.set()

    def stop(self) -> None:
        """End the run with the report as it is (``%warp_resume`` can continue it)."""
        self._stop(background=not in_main_thread())

    def _stop(self, background: bool) -> None:
        """``stop``; ``background``: not from a cell (a button, another thread), so no next
        cell is made for the report."""
        self.stopped = True
        self._pause.set()
        if not self.running:
            self._mark_stopped()
            self._maybe_finish(background=background)
            self.refresh()

    def _mark_stopped(self) -> None:
        with self._lock:
            self.run.stop()

    def _maybe_finish(self, background: bool = False) -> None:
        """Once the run is over: the reports saved, the final outline, the report delivered."""
        if self.finished or not self.done or self.running:
            return
        self.finished = True
        self.views.end(next_input=None if background else next_input_of(self.shell))
        self.refresh()
        if self.on_finish:
            self.on_finish(self)

    # Edits.
    def edit(self, op: str, position: str | None = None, **kwargs: Any) -> list[str]:
        """Change the outline (``Run.edit``); while a step runs, the edit waits for its end."""
        if not self._lock.acquire(blocking=False):
            self._queued.append((op, position, kwargs))
            self.refresh()
            return [f"{op} {position or ''} queued: applied when the current step ends".replace("  ", " ")]
        try:
            diff = self.run.edit(op, position, **kwargs)
        finally:
            self._lock.release()
        self.refresh()
        self.views.changed()
        return diff

    def _apply_queued(self) -> None:
        """Edits made during a step, applied now; the tree's note then says what they did."""
        queued, self._queued = self._queued, []
        said = []
        for op, position, kwargs in queued:
            try:
                said.extend(self.run.edit(op, position, **kwargs))
            except WarpError as exc:
                said.append(f"error: edit {op} {position}: {exc}")
        if queued:
            self.outline.message = "; ".join(said)
            self.views.changed()

    # Buttons: they run in the kernel's message handler, so they only start or flag.
    def _click_step(self, _: Any) -> None:
        self.start(max_steps=1)

    def _click_run(self, _: Any) -> None:
        self.start()

    def _click_pause(self, _: Any) -> None:
        self.pause()
        if self.running:
            self.outline.message = PAUSING

    def _click_stop(self, _: Any) -> None:
        self._stop(background=True)
