"""Report quality: model-free metrics, judge metrics (RACE, FACT, pairwise), comparison
tables and plots, and runs exported as fine-tuning data.

Reads runs through one function (``sources.load_run``) and never drives the loop.
"""

from __future__ import annotations

from .api import EvalResult, ReportEval, evaluate
from .export import ExportSummary, export_sft
from .records import ReportRecord
from .sources import load_run, load_source, load_submissions

__all__ = ["EvalResult", "ExportSummary", "ReportEval", "ReportRecord", "evaluate", "export_sft", "load_run",
           "load_source", "load_submissions"]
