"""The demo job: the Python language reference that ships with CPython as the corpus, one
question about it, and a budget the embedded model finishes in a few minutes on a CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEMO_QUESTION = (
    "How does Python handle exceptions, from the try statement and exception handlers "
    "to raising, chaining and cleaning up with finally and with?"
)
DEMO_BUDGET: dict[str, Any] = {
    "max_steps": 30,
    "max_extends": 1,
    "min_sections": 3,
    "max_sections": 4,
    "max_subsections": 3,
    "first_k": 8,
    "k": 5,
    "passage_max_chars": 500,
    "thought_max_chars": 160,
    "write_max_chars": 520,
    "seed": 0,
}


def build_demo_corpus(out_dir: str | Path, progress: bool = True) -> tuple[Path, Any]:
    """Export the language reference under ``out_dir/corpus`` and index it in ``out_dir/index``."""
    from .corpus import build_index
    from .corpus.samples import export_pydoc_topics

    out = Path(out_dir)
    export_pydoc_topics(out / "corpus")
    summary = build_index([out / "corpus"], out / "index", progress=progress)
    return out / "index", summary
