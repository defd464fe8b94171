"""The formats the kernel side and the JupyterLab extension agree on, in one place.

The labextension's ``src/tokens.ts`` repeats these strings; a test checks they match.

Outline (``OUTLINE_MIME``), rendered by the extension from a saved output alone::

    {"version": 1, "run_id": "20261125-0205-ab12", "title": "...", "query": "...",
     "status": "running" | "paused" | "done" | "failed" | "stopped",
     "state": "search" | "init_plan" | "write" | "extend_plan" | "done",
     "step": 12, "cursor": "section-2.1" | null,
     "counts": {"searches": 4, "extends": 1, "tokens_in": 1234, "tokens_out": 567},
     "nodes": [{"position": "section-1", "title": "...", "plan": "...", "text": "...",
                "status": "planned" | "drafting" | "written" | "extended" | "locked" | "failed",
                "citations": 3, "children": [...]}]}

Cells (``CELLS_MIME``), one Markdown cell per top-level section then a References cell::

    {"version": 1, "run_id": "...", "title": "...",
     "cells": [{"cell_type": "markdown", "source": "## 1 Title\\n...",
                "metadata": {"jupyter_warp": {"run_id": "...", "position": "section-1",
                                              "citations": [1, 4]}}}]}

The References cell has ``"position": "references"``. Comm messages on ``COMM_TARGET``:
the kernel opens the comm when the extension is loaded (``{"action": "hello"}``), the
frontend answers ``{"action": "hello-ack", "version": 1}``; to insert cells the kernel sends
``{"action": "insert-cells", "payload": <cells object>}`` and the frontend answers
``{"action": "inserted", "run_id": ..., "count": N}`` (``count`` 0 when cells of that run
are already in the notebook: inserting is idempotent per run id; an ``"error"`` field with
one line of text when the payload could not be inserted).
"""

from __future__ import annotations

FORMAT_VERSION = 1

OUTLINE_MIME = "application/vnd.jupyter-warp.outline+json"
CELLS_MIME = "application/vnd.jupyter-warp.cells+json"
COMM_TARGET = "jupyter-warp"
CELL_METADATA_KEY = "jupyter_warp"
INSERT_COMMAND = "jupyter-warp:insert-report-cells"
INSERT_COMMAND_LABEL = "Insert WARP report as cells"
