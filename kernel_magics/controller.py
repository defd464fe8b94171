"""The step-through controller: Step, Run, Pause and Stop buttons, the live outline tree,
and what the last step did (state, thought, action, passages, changes).

Buttons never block the kernel: Step and Run hand the steps to a worker thread, where the
run driver steps until the pause flag is set; Pause and Stop only set flags. Outline edits
wait for a step in progress and are applied between two steps. ``step()``, ``start()``,
``run_to_end()``, ``pause()``, ``stop()``, ``wait()`` and ``edit()`` do the same from code.
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

from .cells import CellTarget, Target, WidgetTarget, finish, in_main_thread
from .frontend import FrontendLink
from .outline import OutlineWidget, split_bundle
from .views import outline_bundle, state_label, status_bundle, status_line, step_html


class StepController:
    """Drives one run a step at a time; ``widget`` is what the cell shows."""

    def __init__(self, run: Run, *, link: FrontendLink | None = None, cells: bool = False,
                 outputs: list[str] | None = None, shell: Any = None,
                 on_finish: Callable[[StepController], None] | None = None) -> None:
        self.run = run
        self.link = link
        self.cells = cells
        self.outputs = list(outputs or [])
        self.shell = shell
        self.on_finish = on_finish
        self.stopped = False
        self.finished = run.done
        self.error: BaseException | None = None
        self.last_step: Step | None = run.steps[-1] if run.steps else None

        self._lock = threading.RLock()
        """Held while the run steps or an edit is applied: one change of the run at a time."""
        self._pause = threading.Event()
        self._thread: threading.Thread | None = None
        self._queued: list[tuple[str, str | None, dict[str, Any]]] = []

        self.log = ipywidgets.Output(layout=ipywidgets.Layout(max_height="160px", overflow="auto"))
        self.report_out = ipywidgets.Output()
        """The report output and cell messages when the run ends from a button."""
        self.outline = OutlineWidget(run.snapshot().outline, on_edit=self.edit, errors=self.log)
        self.step_button = self._button("Step", "take one model turn", self._click_step, "step-forward")
        self.run_button = self._button("Run", "step until the end (Pause stops after the current step)",
                                       self._click_run, "play")
        self.pause_button = self._button("Pause", "stop after the current step; Step or Run continue",
                                         self._click_pause, "pause")
        self.stop_button = self._button("Stop", "end the run with the report as it is", self._click_stop, "stop")
        self.status = ipywidgets.HTML()
        self.detail = ipywidgets.HTML()
        bar = ipywidgets.HBox([self.step_button, self.run_button, self.pause_button, self.stop_button, self.status],
                              layout=ipywidgets.Layout(align_items="center"))
        self.widget = ipywidgets.VBox([bar, self.outline, self.detail, self.log, self.report_out])
        self.widget.add_class("warp-controller")
        self.refresh()

    def _button(self, label: str, tooltip: str, handler: Callable[[Any], None], icon: str) -> ipywidgets.Button:
        b = ipywidgets.Button(description=label, tooltip=tooltip, icon=icon, layout=ipywidgets.Layout(width="auto"))
        b.on_click(handler)
        return b

    # What the cell shows.
    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        data, metadata = split_bundle(self.widget._repr_mimebundle_(**kwargs))
        static = outline_bundle(self.run.snapshot().outline)
        static["text/plain"] = self.status_text() + "\n" + static["text/plain"]
        return {**static, **{k: v for k, v in data.items() if k != "text/plain"}}, metadata

    # State.
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def done(self) -> bool:
        return self.run.done or self.stopped

    def next_label(self) -> str:
        s = self.run.state
        if self.stopped:
            return "stopped"
        if self.run.done:
            return f"done ({s.stop_reason})" if s.stop_reason else "done"
        return state_label(s.state, self.run.snapshot().outline["cursor"])

    def status_text(self) -> str:
        return status_line(self.run.snapshot().outline, self.run.config.max_steps, self.run.state.wall_s)

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
                self.status.value = status_bundle(self.status_text())["text/html"]
                self.detail.value = step_html(self.last_step, self.next_label())
            finally:
                self._lock.release()
        else:
            self.outline.busy = True
        idle = not self.running
        self.step_button.disabled = self.run_button.disabled = not idle or self.done
        self.pause_button.disabled = idle
        self.stop_button.disabled = self.done and idle

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

        return RunHooks(on_step_start=before, on_step=after, on_error=failed)

    def _steps(self, max_steps: int | None) -> list[Step]:
        with self._lock:
            taken = len(self.run.steps)
            self.run.run(max_steps, hooks=self._hooks(), stop=self._pause)
            self._apply_queued()
            return self.run.steps[taken:]

    def step(self, n: int = 1) -> list[Step]:
        """Take ``n`` steps now, in this thread; returns them (fewer if the run ends)."""
        if self.running:
            raise ConfigError("the run is stepping in the background: pause it first (controller.pause())")
        if self.done:
            return []
        self._pause.clear()
        try:
            steps = self._steps(n)
        except WarpError:
            print(resume_hint(self.run.dir, notebook=True) + ", or step again")
            raise
        self._maybe_finish(CellTarget(self.shell))
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
            self._say(f"{type(exc).__name__}: {exc}")
            self._say(resume_hint(self.run.dir, notebook=True) + ", or press Step or Run to try again")
        except BaseException:
            self.log.append_stderr(traceback.format_exc())
        finally:
            self._thread = None
            if self.stopped:
                self._mark_stopped()
            self._maybe_finish(WidgetTarget(self.report_out))
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
        self.stopped = True
        self._pause.set()
        if not self.running:
            self._mark_stopped()
            self._maybe_finish(CellTarget(self.shell) if in_main_thread() and not self._in_callback else
                               WidgetTarget(self.report_out))
            self.refresh()

    def _mark_stopped(self) -> None:
        with self._lock:
            self.run.stop()

    def _maybe_finish(self, target: Target) -> None:
        """Once the run is over: the report into cells and to the outputs, as the magic asked."""
        if self.finished or not self.done or self.running:
            return
        self.finished = True
        finish(self.run, target, outputs=self.outputs, cells=self.cells, link=self.link)
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
        return diff

    def _apply_queued(self) -> None:
        queued, self._queued = self._queued, []
        for op, position, kwargs in queued:
            try:
                self._say("; ".join(self.run.edit(op, position, **kwargs)))
            except WarpError as exc:
                self._say(f"edit {op} {position}: {exc}")

    # Buttons: they run in the kernel's message handler, so they only start or flag.
    _in_callback = False

    def _click_step(self, _: Any) -> None:
        self.start(max_steps=1)

    def _click_run(self, _: Any) -> None:
        self.start()

    def _click_pause(self, _: Any) -> None:
        self.pause()
        self._say("pausing after the current step")

    def _click_stop(self, _: Any) -> None:
        self._in_callback = True
        try:
            self.stop()
        finally:
            self._in_callback = False

    def _say(self, text: str) -> None:
        self.log.append_stdout(text + "\n")
