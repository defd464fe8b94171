"""``%%warp`` without ``--step``: run to the end in the cell while its static outline (the
tree the extension renders, updated in place after every step) and its progress line (a
ticking line during each step) follow the run; see ``live.RunViews``."""

from __future__ import annotations

from typing import Any

from jupyter_warp.errors import WarpError
from jupyter_warp.runs import Run, resume_hint

from .cells import next_input_of
from .frontend import FrontendLink
from .live import RunViews


def stream_run(run: Run, *, link: FrontendLink | None = None, cells: bool = False,
               outputs: list[str] | None = None, shell: Any = None) -> RunViews:
    """Step ``run`` to its end, then finish it. A failure shows one line and how to resume,
    then re-raises; Ctrl-C stops the run (``%warp_resume`` continues it) and finishes it."""
    views = RunViews(run, link=link, cells=cells, outputs=outputs).show()
    hint = resume_hint(run.dir, notebook=True)
    note = ""
    try:
        run.run(hooks=views.hooks())
    except WarpError as exc:
        views.halted(f"{type(exc).__name__}: {exc} · {hint}")
        print(hint)
        raise
    except KeyboardInterrupt:
        run.stop("interrupted by the user")
        note = f"interrupted: {hint}"
    views.end(next_input=next_input_of(shell), note=note)
    return views
