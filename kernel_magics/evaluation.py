"""The notebook view of an evaluation (``%warp_eval``, ``warp.evaluate()``, or any
``EvalResult`` displayed): the table, the metrics as bars, each run's steps.

Plots are inline SVG written here (no plotting library needed, and a saved notebook shows
them without a kernel). Every text that came from a report or a model is escaped.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from jupyter_warp.evaluate.compare import columns, fmt, row_names
from jupyter_warp.evaluate.records import StepRecord

if TYPE_CHECKING:
    from jupyter_warp.evaluate.api import EvalResult

BAR_METRICS = ("citation_validity", "supported_share", "uncited_statements", "repetition", "instruction_copy",
               "language_match", "question_terms_covered", "source_diversity", "fact_accuracy")
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d")
STATE_COLORS = {"search": "#4c78a8", "init_plan": "#b279a2", "write": "#54a24b", "extend_plan": "#f58518"}
MAX_TIMELINES = 6


def _svg_open(width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            'font-family="sans-serif" font-size="11">')


def table_html(result: EvalResult) -> str:
    """The metric table as HTML, one column per report (or group), values escaped."""
    labels, values = columns(result)
    head = "".join(f"<th>{escape(label)}</th>" for label in labels)
    body = "".join(
        f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{escape(fmt(name, v.get(name)))}</td>" for v in values) + "</tr>"
        for name in row_names(result))
    return (f'<table class="warp-eval"><thead><tr><th>metric</th>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def bars_svg(result: EvalResult, width: int = 640) -> str:
    """Grouped horizontal bars: one group per share metric, one bar per report (0 to 1)."""
    labels, values = columns(result)
    metrics = [m for m in BAR_METRICS if any(isinstance(v.get(m), (int, float)) for v in values)]
    bar, gap, left = 10, 8, 190
    group = bar * len(labels) + gap
    height = group * len(metrics) + 22 * len(labels) + 10
    scale = width - left - 50
    parts = [_svg_open(width, height)]
    for m, name in enumerate(metrics):
        y0 = m * group
        parts.append(f'<text x="{left - 6}" y="{y0 + group / 2}" text-anchor="end">{escape(name)}</text>')
        for c, column in enumerate(values):
            value = column.get(name)
            if not isinstance(value, (int, float)):
                continue
            y = y0 + c * bar
            parts.append(f'<rect x="{left}" y="{y}" width="{max(1.0, float(value) * scale):.1f}" height="{bar - 1}" '
                         f'fill="{PALETTE[c % len(PALETTE)]}"><title>{escape(labels[c])}: {value:.3f}</title></rect>')
            parts.append(f'<text x="{left + float(value) * scale + 4:.1f}" y="{y + bar - 2}">{value:.2f}</text>')
    y = group * len(metrics) + 14
    for c, label in enumerate(labels):
        parts.append(f'<rect x="{left}" y="{y + 22 * c - 9}" width="10" height="10" '
                     f'fill="{PALETTE[c % len(PALETTE)]}"/>'
                     f'<text x="{left + 16}" y="{y + 22 * c}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def timeline_svg(steps: list[StepRecord], title: str, width: int = 640) -> str:
    """One bar per step: height is its latency, colour its state; a faded bar was rejected.
    Below, the step's prompt and reply tokens."""
    if not steps:
        return ""
    top, lane, left = 18, 90, 40
    slot = (width - left - 10) / len(steps)
    max_latency = max((s.latency_s for s in steps), default=0.0) or 1.0
    max_tokens = max((s.prompt_tokens + s.completion_tokens for s in steps), default=0) or 1
    height = top + 2 * lane + 40
    parts = [_svg_open(width, height),
             f'<text x="0" y="12">{escape(title)}: latency (s) and tokens per step</text>',
             f'<text x="0" y="{top + 10}">{max_latency:.1f}s</text>',
             f'<text x="0" y="{top + lane + 20}">{max_tokens}</text>']
    for i, step in enumerate(steps):
        x = left + i * slot
        h = step.latency_s / max_latency * (lane - 4)
        color = STATE_COLORS.get(step.state, "#888")
        opacity = "1" if step.accepted else "0.35"
        tip = (f"step {step.index} {step.state} {step.position or ''}: {step.latency_s:.1f} s, tokens "
               f"{step.prompt_tokens}/{step.completion_tokens}"
               + ("" if step.accepted else f", rejected: {step.error}"))
        parts.append(f'<rect x="{x:.1f}" y="{top + lane - h:.1f}" width="{max(1.0, slot - 1):.1f}" height="{h:.1f}" '
                     f'fill="{color}" fill-opacity="{opacity}"><title>{escape(tip)}</title></rect>')
        base = top + 2 * lane + 10
        tin = step.prompt_tokens / max_tokens * (lane - 4)
        tout = step.completion_tokens / max_tokens * (lane - 4)
        parts.append(f'<rect x="{x:.1f}" y="{base - tin - tout:.1f}" width="{max(1.0, slot - 1):.1f}" '
                     f'height="{tin:.1f}" fill="#bbb"/>')
        parts.append(f'<rect x="{x:.1f}" y="{base - tout:.1f}" width="{max(1.0, slot - 1):.1f}" '
                     f'height="{tout:.1f}" fill="#333"/>')
    legend = " ".join(f'<tspan fill="{c}">■ {s}</tspan>' for s, c in STATE_COLORS.items())
    parts.append(f'<text x="{left}" y="{height - 4}">{legend} <tspan fill="#bbb">■ prompt tokens</tspan> '
                 '<tspan fill="#333">■ reply tokens</tspan> (faded: rejected)</text></svg>')
    return "".join(parts)


class EvalView:
    """What the notebook shows for an ``EvalResult``: HTML with a plain-text fallback."""

    def __init__(self, result: EvalResult) -> None:
        self.result = result

    def html(self) -> str:
        """The table, the bar chart, the step timelines and the notes, as one HTML block."""
        parts = ['<div class="warp-eval">', table_html(self.result), bars_svg(self.result)]
        runs = [r for r in self.result.reports if r.record.steps][:MAX_TIMELINES]
        parts += [timeline_svg(r.record.steps, r.record.label) for r in runs]
        notes = [line for line in self.result.table().splitlines()[len(row_names(self.result)) + 2:]]
        if notes:
            parts.append("<pre>" + escape("\n".join(notes)) + "</pre>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.result.table()}

    def __repr__(self) -> str:
        return self.result.table()
