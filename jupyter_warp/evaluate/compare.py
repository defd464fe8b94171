"""Several reports side by side: one column per report (or, past ``MAX_COLUMNS`` reports,
per source folder or file, averaged), one row per metric, in the terminal and as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .metrics import REPORT_METRICS

if TYPE_CHECKING:
    from .api import EvalResult, ReportEval

MAX_COLUMNS = 8
RACE_DIMENSIONS = ("comprehensiveness", "insight", "instruction_following", "readability")
SHARES = {"citation_validity", "citation_support", "supported_share", "uncited_statements", "repetition",
          "instruction_copy", "language_match", "question_terms_covered", "source_diversity", "top_source_share",
          "fact_accuracy"}


def row_values(report: ReportEval) -> dict[str, Any]:
    """Every number the table shows for one report, by row name."""
    values: dict[str, Any] = dict(report.metrics)
    if report.race:
        values["race_overall"] = report.race["overall"]
        for dim in RACE_DIMENSIONS:
            values[f"race_{dim}"] = (report.race["dimensions"].get(dim) or {}).get("score")
    if report.fact:
        values["fact_accuracy"] = report.fact["accuracy"]
        values["fact_supported"] = report.fact["supported"]
    values["eval_s"] = report.eval_s
    return values


def row_names(result: EvalResult) -> list[str]:
    """The table's metric rows; RACE and FACT rows only when some report has them."""
    names = list(REPORT_METRICS)
    if any(r.race for r in result.reports):
        names += ["race_overall"] + [f"race_{d}" for d in RACE_DIMENSIONS]
    if any(r.fact for r in result.reports):
        names += ["fact_accuracy", "fact_supported"]
    return names + ["eval_s"]


def _mean(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return sum(numbers) / len(numbers) if numbers else None


def columns(result: EvalResult) -> tuple[list[str], list[dict[str, Any]]]:
    """Column labels and each column's values: a report each, or a group's means."""
    if len(result.reports) <= MAX_COLUMNS:
        return [r.record.label for r in result.reports], [row_values(r) for r in result.reports]
    groups: dict[str, list[dict[str, Any]]] = {}
    for report in result.reports:
        groups.setdefault(report.record.group or "reports", []).append(row_values(report))
    labels = [f"{name} (mean of {len(rows)})" for name, rows in groups.items()]
    means = [{key: _mean([row.get(key) for row in rows]) for key in {k for row in rows for k in row}}
             for rows in groups.values()]
    return labels, means


def fmt(name: str, value: Any) -> str:
    """A metric's value as the table shows it (``-`` when missing)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if name in SHARES:
            return f"{value:.2f}"
        return f"{value:.2f}" if name == "eval_s" else f"{value:.1f}"
    return str(value)


def comparison(result: EvalResult) -> dict[str, Any]:
    """The side-by-side table as JSON: ``columns`` and ``rows`` ``{metric: [value per column]}``."""
    labels, values = columns(result)
    return {"columns": labels, "rows": {name: [v.get(name) for v in values] for name in row_names(result)}}


def format_table(header: list[str], rows: list[list[str]], width: int = 26) -> str:
    """Plain aligned columns; long labels are shortened with an ellipsis."""
    cut = [[c if len(c) <= width else c[:width - 1] + "…" for c in row] for row in [header] + rows]
    widths = [max(len(row[i]) for row in cut) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in cut]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def text_report(result: EvalResult) -> str:
    """The terminal view: the metric table, the pairwise tally, notes and a closing status."""
    labels, values = columns(result)
    names = row_names(result)
    parts = [format_table(["metric"] + labels, [[name] + [fmt(name, v.get(name)) for v in values] for name in names])]
    for report in result.reports:
        if report.copied_phrases:
            parts.append(f"{report.record.label}: copied from the prompts: " +
                         "; ".join(f'"{p}"' for p in report.copied_phrases[:3]))
        parts += [f"{report.record.label}: {note}" for note in report.notes]
        if report.race and report.race["errors"]:
            errors = "; ".join(report.race["errors"])
            parts.append(f"{report.record.label}: RACE judge replies not understood: {errors}")
    if result.pairwise:
        p = result.pairwise
        rate = "-" if p["win_rate"] is None else f"{p['win_rate']:.2f}"
        parts.append(f"pairwise {p['a']} vs {p['b']}: {p['win']} wins, {p['tie']} ties, {p['loss']} losses"
                     f"{', ' + str(p['unknown']) + ' undecided' if p['unknown'] else ''} (win rate {rate}, "
                     "both orders judged)")
    if result.judge:
        parts.append(f"judge {result.judge}: {len(result.judgements)} judgements, "
                     f"{sum(1 for j in result.judgements if j.error)} not understood")
    if result.incomplete:
        parts.append(f"incomplete: {result.incomplete}")
    return "\n".join(parts)
