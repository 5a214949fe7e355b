"""The report as text: Markdown, CSV and one self-contained HTML page (inline CSS, PNGs inline as
base64, no script and no network), from `ReportData`. Within-noise differences are marked in
every table: "≈" after a checkpoint's value that is within noise of the previous checkpoint, and
a "within noise" verdict in the comparison tables."""

from __future__ import annotations

import base64
import csv
import html
import io
from typing import Any

from rayeval.report.collect import Comparison, ReportData

NOISE_MARK = "≈"
MODEL_COLUMNS = ["model", "run", "step", "step_unit", "kind"]
ROW_COLUMNS = ["benchmark", "metric", "value", "n", "stderr", "ci_low", "ci_high", "headline", "within_noise_of_previous"]
COMPARISON_COLUMNS = [
    "benchmark",
    "metric",
    "reason",
    "a",
    "b",
    "n",
    "a_value",
    "b_value",
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "verdict",
]


def number(value: float | None) -> str:
    """Four significant decimals for fractions, two for 0-100 scales."""
    if value is None:
        return "—"
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"


def within_noise_of_previous(data: ReportData) -> set[tuple[str, str, str]]:
    """(model, benchmark, metric) of checkpoints within noise of the previous checkpoint."""
    return {(c.b, c.benchmark, c.metric) for c in data.comparisons if c.reason == "consecutive checkpoints" and c.result.within_noise}


def headline_cell(data: ReportData, model_id: str, benchmark: str, metric: str, noisy: set[tuple[str, str, str]]) -> str:
    row = data.value(model_id, benchmark, metric)
    if row is None:
        return "—"
    text = number(row["value"])
    if row.get("ci_low") is not None:
        text += f" [{number(row['ci_low'])}, {number(row['ci_high'])}]"
    return text + (f" {NOISE_MARK}" if (model_id, benchmark, metric) in noisy else "")


def headline_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    """Header and rows of models × headline metrics (value [95% interval])."""
    noisy = within_noise_of_previous(data)
    header = ["model", "step", *[f"{b} {m}" for b, m in data.headline]]
    rows = [
        [m.id, "" if m.step is None else str(m.step), *[headline_cell(data, m.id, b, metric, noisy) for b, metric in data.headline]]
        for m in data.models
    ]
    return header, rows


def p_value(p: float) -> str:
    """A p-value as the bootstrap can resolve it: 0 means below one resample in RESAMPLES."""
    from rayeval.report.stats import RESAMPLES

    return f"<{1 / RESAMPLES:g}" if p == 0 else f"{p:.3f}"


def comparison_row(c: Comparison) -> list[str]:
    r = c.result
    return [
        c.benchmark,
        c.metric,
        c.reason,
        c.a,
        c.b,
        str(r.n),
        number(r.a),
        number(r.b),
        f"{r.diff:+.4f}",
        f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]",
        p_value(r.p_value),
        c.verdict,
    ]


COMPARISON_HEADER = ["benchmark", "metric", "why", "A", "B", "n", "A", "B", "B − A", "95% interval", "p", "verdict"]


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def breakdown_table(data: ReportData, benchmark: str) -> tuple[list[str], list[list[str]]]:
    header = ["metric", *[m.id for m in data.models]]
    rows = [[metric, *[number(values.get(m.id)) for m in data.models]] for metric, values in data.breakdown(benchmark)]
    return header, rows


LEGEND = (
    f"Values are means with their 95% bootstrap interval over items. {NOISE_MARK}: within noise of the previous "
    "checkpoint (the paired bootstrap's 95% interval of the difference contains 0)."
)


def markdown(data: ReportData, plots: dict[tuple[str, str], str]) -> str:
    """report.md; `plots` maps (benchmark, metric) to the PNG's path relative to the report."""
    parts = ["# rayeval report", "", LEGEND, "", "## Headline metrics", "", _markdown_table(*headline_table(data)), ""]
    if data.comparisons:
        parts += ["## Paired comparisons", "", _markdown_table(COMPARISON_HEADER, [comparison_row(c) for c in data.comparisons]), ""]
    if plots:
        parts += ["## Plots", ""] + [f"![{b} {m}]({path})" for (b, m), path in plots.items()] + [""]
    for bench in data.benchmarks:
        header, rows = breakdown_table(data, bench.name)
        if rows:
            parts += [f"## {bench.name}: every metric", "", _markdown_table(header, rows), ""]
    return "\n".join(parts)


def model_csv(data: ReportData) -> str:
    """report.csv: one line per model × summary row, with the model's place in its run."""
    noisy = within_noise_of_previous(data)
    headline = set(data.headline)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MODEL_COLUMNS + ROW_COLUMNS)
    for m in data.models:
        for (model_id, benchmark, metric), row in data.rows.items():
            if model_id != m.id:
                continue
            stats = [row.get(key) for key in ("value", "n", "stderr", "ci_low", "ci_high")]
            writer.writerow(
                [
                    m.id,
                    m.run,
                    m.step,
                    m.step_unit,
                    m.kind,
                    benchmark,
                    metric,
                    *_blank(stats),
                    (benchmark, metric) in headline,
                    (m.id, benchmark, metric) in noisy,
                ]
            )
    return buffer.getvalue()


def comparisons_csv(data: ReportData) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COMPARISON_COLUMNS)
    for c in data.comparisons:
        r = c.result
        writer.writerow([c.benchmark, c.metric, c.reason, c.a, c.b, r.n, r.a, r.b, r.diff, r.ci_low, r.ci_high, r.p_value, c.verdict])
    return buffer.getvalue()


def _blank(values: list[Any]) -> list[Any]:
    return ["" if v is None else v for v in values]


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.6em 0 1.6em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
tr.noise td { color: #777; background: #fafafa; }
tr.better td:last-child { color: #11772d; font-weight: 600; }
tr.worse td:last-child { color: #b3261e; font-weight: 600; }
.plots img { max-width: 100%; border: 1px solid #ddd; margin: 0.4em 0.4em 1em 0; }
.scroll { overflow-x: auto; }
"""


def _html_table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        f'<tr class="{cls}">' + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row, cls in zip(rows, classes or [""] * len(rows))
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def page(data: ReportData, pngs: dict[tuple[str, str], bytes]) -> str:
    """report.html: one page, everything inline."""
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>rayeval report</title>',
        f"<style>{_CSS}</style></head><body><h1>rayeval report</h1>",
        f"<p>{html.escape(LEGEND)}</p>",
        "<h2>Headline metrics</h2>",
        _html_table(*headline_table(data)),
    ]
    if data.comparisons:
        classes = ["noise" if c.result.within_noise else ("better" if c.result.diff > 0 else "worse") for c in data.comparisons]
        parts += ["<h2>Paired comparisons</h2>", _html_table(COMPARISON_HEADER, [comparison_row(c) for c in data.comparisons], classes)]
    if pngs:
        parts.append('<h2>Plots</h2><div class="plots">')
        for (benchmark, metric), png in pngs.items():
            encoded = base64.b64encode(png).decode("ascii")
            parts.append(f'<img alt="{html.escape(f"{benchmark} {metric}")}" src="data:image/png;base64,{encoded}">')
        parts.append("</div>")
    for bench in data.benchmarks:
        header, rows = breakdown_table(data, bench.name)
        if rows:
            parts += [f"<h2>{html.escape(bench.name)}: every metric</h2>", _html_table(header, rows)]
    parts.append("</body></html>")
    return "\n".join(parts)
