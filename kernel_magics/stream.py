"""``%%warp`` without ``--step``: run to the end in the cell, the outline tree and a status
line updated in place after every step (``display_id`` updates, not a wall of prints)."""

from __future__ import annotations

from typing import Any

from IPython.display import display

from jupyter_warp.errors import WarpError
from jupyter_warp.runs import Run

from .outline import OutlineWidget
from .views import Clock, status_bundle, status_line


def stream_run(run: Run) -> OutlineWidget:
    """Step ``run`` to its end; a failure prints one line and how to resume, then re-raises.

    The tree updates through its synced trait after each step; its display (with the static
    fallback a saved notebook shows) is updated once more at the end.
    """
    clock = Clock()
    max_steps = run.state.config.max_steps
    tree = OutlineWidget(run.outline())
    tree_handle = display(tree, display_id=True)
    status = display(status_bundle(status_line(run.outline(), max_steps, 0)), raw=True, display_id=True)

    def update(text: str) -> None:
        if status is not None:
            status.update(status_bundle(text), raw=True)

    def after_step(r: Run, step: Any) -> None:
        outline = r.outline()
        with tree.hold_sync():
            tree.outline = outline
        update(status_line(outline, max_steps, clock()))

    def resume_hint() -> str:
        return f"the run is saved at step {run.state.step}: continue it with `%warp_resume {run.dir}`"

    try:
        run.run(on_step_end=after_step)
    except WarpError:
        update(status_line(run.outline(), max_steps, clock()) + " · " + resume_hint())
        print(resume_hint())
        raise
    except KeyboardInterrupt:
        update(status_line(run.outline(), max_steps, clock()) + " · interrupted")
        print(f"interrupted: {resume_hint()}")
    finally:
        tree.outline = run.outline()
        if tree_handle is not None:
            tree_handle.update(tree)
    if run.done:
        update(run.summary_line())
    return tree
