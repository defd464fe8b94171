"""``%%warp`` without ``--step``: run to the end in the cell, the outline tree and a status
line updated in place after every step (``display_id`` updates, not a wall of prints)."""

from __future__ import annotations

from IPython.display import display

from jupyter_warp.errors import WarpError
from jupyter_warp.records import Step
from jupyter_warp.render import Snapshot
from jupyter_warp.runs import Run, RunHooks, resume_hint

from .cells import CellTarget, finish
from .frontend import FrontendLink
from .outline import OutlineWidget
from .views import Clock, status_bundle, status_line


def stream_run(run: Run, *, link: FrontendLink | None = None, cells: bool = False,
               outputs: list[str] | None = None) -> OutlineWidget:
    """Step ``run`` to its end, then finish it; a failure prints one line and how to resume,
    then re-raises.

    The tree updates through its synced trait after each step; its display (with the static
    fallback a saved notebook shows) is updated once more at the end.
    """
    clock = Clock()
    max_steps = run.config.max_steps
    tree = OutlineWidget(dict(run.snapshot().outline))
    tree_handle = display(tree, display_id=True)
    status = display(status_bundle(status_line(run.snapshot().outline, max_steps, 0)), raw=True, display_id=True)

    def update(text: str) -> None:
        if status is not None:
            status.update(status_bundle(text), raw=True)

    def after_step(r: Run, step: Step, shot: Snapshot) -> None:
        with tree.hold_sync():
            tree.outline = dict(shot.outline)
        update(status_line(shot.outline, max_steps, clock()))

    hint = resume_hint(run.dir, notebook=True)
    try:
        run.run(hooks=RunHooks(on_step=after_step))
    except WarpError:
        update(status_line(run.snapshot().outline, max_steps, clock()) + " · " + hint)
        print(hint)
        raise
    except KeyboardInterrupt:
        update(status_line(run.snapshot().outline, max_steps, clock()) + " · interrupted")
        print(f"interrupted: {hint}")
    finally:
        tree.outline = dict(run.snapshot().outline)
        if tree_handle is not None:
            tree_handle.update(tree)
    finish(run, CellTarget(), outputs=outputs or [], cells=cells, link=link, say=print)
    if run.done:
        update(run.snapshot().summary)
    return tree
