"""One PNG per headline metric: score against training step, one line per run with its 95%
interval band, base/API/final models as labelled horizontal reference lines (dashed, with their
interval as a light band). A checkpoint whose difference from the previous one is within noise
(paired test) is drawn hollow, so a rise that is only noise is visible as such.

matplotlib (a core dependency: every sweep draws its report) through its object API (`Figure` with the Agg canvas), never
pyplot: no display needed, no global figure registry, so a sweep may redraw in a background thread
(`rayeval.report.refresher`). Imported only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rayeval.files import atomic_write_bytes
from rayeval.report.collect import ReportData

FIGSIZE = (7.0, 4.2)
"""Inches; at DPI 110 about 770 × 460 px: readable in the HTML page's column without scaling."""
DPI = 110
REFERENCE_COLOURS = ("#444444", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def plot_metric(data: ReportData, benchmark: str, metric: str, path: Path) -> bytes:
    """Draw one metric's plot, write it to `path` atomically, and return the PNG bytes."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    noisy = {
        (c.a, c.b)
        for c in data.comparisons
        if c.benchmark == benchmark and c.metric == metric and c.reason == "consecutive checkpoints" and c.result.within_noise
    }
    any_hollow = False
    for run, ckpts in data.runs().items():
        points = [(m, row) for m in ckpts if (row := data.value(m.id, benchmark, metric))]
        if not points:
            continue
        steps = [m.step or 0 for m, _ in points]
        values = [row["value"] for _, row in points]
        (line,) = ax.plot(steps, values, "-", label=run, linewidth=1.8)
        if all("ci_low" in row for _, row in points):
            ax.fill_between(
                steps, [r["ci_low"] for _, r in points], [r["ci_high"] for _, r in points], color=line.get_color(), alpha=0.18, linewidth=0
            )
        previous: str | None = None
        for (m, row), step in zip(points, steps):
            hollow = previous is not None and (previous, m.id) in noisy
            any_hollow |= hollow
            ax.plot(
                [step], [row["value"]], "o", markersize=7, color=line.get_color(), markerfacecolor="white" if hollow else line.get_color()
            )
            previous = m.id
        unit = points[0][0].step_unit or "step"
        ax.set_xlabel(unit)
    _reference_lines(ax, data, benchmark, metric)
    if any_hollow:
        ax.plot([], [], "o", color="#555555", markerfacecolor="white", label="within noise of the previous checkpoint")
    ax.set_title(f"{benchmark} · {metric} (95% interval)")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    png = buffer.getvalue()
    atomic_write_bytes(path, png)
    return png


def _reference_lines(ax: Any, data: ReportData, benchmark: str, metric: str) -> None:
    """Base, API and final models as labelled horizontal lines with their interval band."""
    references = [m for m in data.models if m.kind != "checkpoint"]
    for colour, model in zip(REFERENCE_COLOURS * len(references), references):
        row = data.value(model.id, benchmark, metric)
        if row is None:
            continue
        ax.axhline(row["value"], color=colour, linestyle="--", linewidth=1.2, label=f"{model.id} ({model.kind})")
        if "ci_low" in row:
            ax.axhspan(row["ci_low"], row["ci_high"], color=colour, alpha=0.07, linewidth=0)
        ax.annotate(
            model.id,
            xy=(1.0, row["value"]),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color=colour,
        )
