"""The reference profile: prompt variables rendered as the reference system renders them, so
that a model trained on its prompts (AgentCPM-Report) reads what it was trained on.

Read from the reference's code (OpenBMB/AgentCPM, ``AgentCPM-Report/servers/custom/src/
custom.py`` for passages and keys; its UltraRAG submodule's ``servers/prompt/src/prompt.py``
for the outline, the survey and the instruction):

- ``current_information``: ``bibkey:textidN``, a newline, the passage text; passages joined
  by a blank line (``surveycpm_process_passages_with_citation``).
- ``current_outline`` (search) and ``current_survey`` (extend): ``_print_tasknote``:
  ``# Title: [OK] <title>`` then one line per node, ``# Section-1 [Name]: [OK] text`` or
  ``[PLAN] plan``, subsections indented as ``    ## Section-1.1 [...]: ...`` and
  ``        ### Section-1.1.1 [...]: ...``, newlines flattened, each line ending in a newline;
  ``There is no survey.`` before the first plan. The writer's ``current_survey`` is
  ``_print_tasknote_hire``: the same lines (the reference passes no tokenizer, so nothing is
  abbreviated). One difference, on purpose: the reference's pinned UltraRAG repeats the text
  of the sections near the cursor a second time with no separator (``_to_one_line``), a slip
  UltraRAG has since fixed; here it is shown once.
- ``current_instruction``: ``You need to update section-2.1``; ``You need to update outline``
  for the first search.
- Written text shows its citations as ``\\cite{textid3, textid7}``.

Shortening (only when a prompt does not fit, at levels above 0) follows the reference's own
unused rule: distant text cut to its first 100 and last 50 tokens around `` ... ``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..citations import as_cite_commands
from ..records import Passage
from ..report import WRITTEN, Node, Report
from .variables import near_cursor

FULL, ABBREVIATED, MARKER = "full", "abbreviated", "marker"
REFERENCE_LEVELS = ((FULL, FULL), (ABBREVIATED, FULL), (MARKER, FULL), (MARKER, ABBREVIATED), (MARKER, MARKER))
"""(distant, near) forms of written text per shortening level."""


def _approx_tokens(char: str) -> float:
    return 1.0 if "\u2e80" <= char <= "\ud7af" or "\uf900" <= char <= "\uffef" else 0.25


def head_tail(text: str, head: int = 100, tail: int = 50) -> str:
    """The first ``head`` and last ``tail`` tokens (estimated) around `` ... ``."""
    weights = [_approx_tokens(c) for c in text]
    if sum(weights) <= head + tail:
        return text
    start, used = 0, 0.0
    while start < len(text) and used + weights[start] <= head:
        used, start = used + weights[start], start + 1
    end, used = len(text), 0.0
    while end > start and used + weights[end - 1] <= tail:
        used, end = used + weights[end - 1], end - 1
    return text[:start] + " ... " + text[end:]


def one_line(node: Node, form: str = FULL) -> str:
    """A node's line content: ``[OK] text`` once written, else ``[PLAN] plan``."""
    if node.status == WRITTEN and node.text:
        text = as_cite_commands(node.text, node.citations)
        if form == ABBREVIATED:
            text = head_tail(text)
        elif form == MARKER:
            text = "..."
        return "[OK] " + text.replace("\n", " ").strip()
    return "[PLAN] " + node.plan.replace("\n", " ").strip()


def tasknote(report: Report, level: int = 0, near: set[str] | None = None) -> str:
    """``_print_tasknote``: the outline for search and the full report for extend."""
    if not report.sections and not report.title:
        return "There is no survey."
    distant, close = REFERENCE_LEVELS[min(level, len(REFERENCE_LEVELS) - 1)]
    near = near if near is not None else {p for p in report.positions()}
    title = report.title.replace("\n", " ").strip()
    out = f"# Title: {'[OK] ' + title if title else ''}\n"
    for pos, node, depth in report.walk():
        indent = "    " * (depth - 1)
        out += f"{indent}{'#' * depth} Section-{pos.split('-', 1)[1]} [{node.title}]: "
        out += one_line(node, close if pos in near else distant) + "\n"
    return out


def last_detail(report: Report) -> str:
    """``_check_progress_postion_last_detail``: the last written node before the first
    unwritten one in pre-order (``outline`` when none); a node the engine skipped (failed,
    locked) is passed over."""
    last = "outline"
    for pos, node, _ in report.walk():
        if node.status == WRITTEN and node.text:
            last = pos
        elif node.status != "failed" and not node.locked:
            break
    return last


def hire_near(report: Report) -> set[str]:
    """The nodes ``_print_tasknote_hire`` shows through ``_to_one_line`` (in full)."""
    now = last_detail(report)
    hire = now.count(".")
    near: set[str] = set()
    for pos, _, depth in report.walk():
        parts = pos.split("-", 1)[1].split(".")
        first, second = f"section-{parts[0]}", f"section-{'.'.join(parts[:2])}"
        if depth == 1 and (hire == 0 or now.startswith(first) and hire == 1):
            near.add(pos)
        elif depth == 2 and (now.startswith(first) and hire == 1 or now.startswith(second) and hire == 2):
            near.add(pos)
        elif depth == 3 and now.startswith(second):
            near.add(pos)
    return near


class ReferenceView:
    """Prompt variables in the reference system's forms."""

    name = "reference"
    levels = len(REFERENCE_LEVELS)

    def outline(self, report: Report, cursor_id: str | None, level: int = 0) -> str:
        """``current_outline`` of the search prompt."""
        return tasknote(report, level, near_cursor(report, cursor_id))

    def survey(self, report: Report, cursor_id: str | None, level: int = 0) -> str:
        """``current_survey`` of the write prompt (``_print_tasknote_hire``, last detail)."""
        return tasknote(report, level, hire_near(report))

    def full_survey(self, report: Report, level: int = 0) -> str:
        """``current_survey`` of the extend prompt."""
        return tasknote(report, level)

    def information(self, passages: Sequence[Passage], keys: Sequence[int], chars: int) -> str:
        """``current_information``: ``bibkey:textidN`` blocks."""
        blocks = (f"bibkey:textid{k}\n{p.text.strip()[:chars]}" for k, p in zip(keys, passages, strict=False))
        return "\n\n".join(blocks).strip()

    def instruction(self, report: Report, cursor_id: str | None, phase: str) -> str:
        """``current_instruction``: ``You need to update section-2.1`` (``outline`` first)."""
        entry = report.by_id(cursor_id) if cursor_id else None
        return f"You need to update {entry[0] if entry else 'outline'}"
