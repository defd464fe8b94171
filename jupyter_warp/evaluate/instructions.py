"""Phrases of the prompts' instructions, read from the template files themselves.

A small model often copies its instructions into the report ("write this section as plain
sentences that state facts from the passages above"). The phrases are every run of
``COPY_N`` words of the templates' fixed text: Jinja expressions, statements and comments
are cut out first, and no run spans one of them, a line break or a placeholder, so a phrase
is always text the model was actually shown. The templates read are this package's own
(every ``*.jinja`` under ``jupyter_warp/prompts``), a run's ``prompts_dir``, and any folder
the caller names (for example the AgentCPM-Report templates).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..machine.text import COPY_N, has_cjk, ngrams, template_segments
from . import text as T

PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "prompts"


def template_files(folders: Iterable[str | Path]) -> list[Path]:
    """Every ``.jinja`` file under the folders, sorted, each once."""
    found: dict[Path, None] = {}
    for folder in folders:
        path = Path(folder).expanduser()
        if path.is_file():
            found.setdefault(path.resolve(), None)
        elif path.is_dir():
            for file in sorted(path.rglob("*.jinja")):
                found.setdefault(file.resolve(), None)
    return list(found)


@dataclass
class InstructionPhrases:
    """The ``COPY_N``-word phrases of a set of templates."""

    ngrams: frozenset[tuple[str, ...]]
    files: list[str] = field(default_factory=list)
    n: int = COPY_N

    def copied(self, word_list: list[str]) -> list[bool]:
        """For each word, whether it lies inside a phrase of the templates."""
        flags = [False] * len(word_list)
        for i, gram in enumerate(ngrams(word_list, self.n)):
            if gram in self.ngrams:
                for j in range(i, i + self.n):
                    flags[j] = True
        return flags


def copied_spans(word_list: list[str], flags: list[bool]) -> list[str]:
    """The runs of copied words, joined back into phrases."""
    spans: list[str] = []
    run: list[str] = []
    for word, flag in zip(word_list, flags, strict=True):
        if flag:
            run.append(word)
        elif run:
            spans.append(_join(run))
            run = []
    if run:
        spans.append(_join(run))
    return spans


def _join(run: list[str]) -> str:
    return "".join(run) if all(has_cjk(w) for w in run) else " ".join(run)


@lru_cache(maxsize=16)
def _phrases(files: tuple[Path, ...], n: int) -> InstructionPhrases:
    grams: set[tuple[str, ...]] = set()
    for file in files:
        for segment in template_segments(file.read_text(encoding="utf-8", errors="replace")):
            grams.update(ngrams(T.words(segment), n))
    return InstructionPhrases(frozenset(grams), [str(f) for f in files], n)


def instruction_phrases(extra: Iterable[str | Path] = (), n: int = COPY_N) -> InstructionPhrases:
    """Phrases of the package's templates plus those under ``extra`` folders or files."""
    return _phrases(tuple(template_files([PACKAGE_TEMPLATES, *extra])), n)
