"""The formats the kernel side and the JupyterLab extension agree on, in one place.

The labextension's ``src/tokens.ts`` repeats these strings; a test checks they match.
"""

from __future__ import annotations

OUTLINE_MIME = "application/vnd.jupyter-warp.outline+json"
"""A run's outline tree: ``{"run_id", "title", "status", "nodes": [...]}``."""

CELLS_MIME = "application/vnd.jupyter-warp.cells+json"
"""The report as cells: ``{"run_id", "cells": [{"source", "metadata"}]}``."""

COMM_TARGET = "jupyter-warp"
"""Comm target the extension registers; the kernel sends ``{"action": "insert-cells", ...}``."""

CELL_METADATA_KEY = "jupyter_warp"
"""Key under a cell's metadata: ``{"run_id", "position", "citations"}``."""

INSERT_COMMAND = "jupyter-warp:insert-report-cells"
