"""The report in the terminal: models × headline metrics, and one comparison (`--compare A B`)
with the items that flipped between the two models."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from rayeval.errors import RayevalError
from rayeval.report import render
from rayeval.report.collect import Comparison, ReportData, flipped

FLIPPED_SHOWN = 10
"""Flipped items listed per metric (the count is always given; comparisons.csv has the tests)."""


def print_headline(console: Console, data: ReportData) -> None:
    header, rows = render.headline_table(data)
    table = Table(
        title="rayeval report: headline metrics, value [95% interval]",
        caption=f"{render.NOISE_MARK} within noise of the previous checkpoint",
    )
    for index, name in enumerate(header):
        table.add_column(name.replace(" ", "\n", 1), justify="left" if index == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    _wide(console, table, _width([header[:1] + [h.split(" ", 1)[-1] for h in header[1:]], *rows]))


def print_comparison(console: Console, data: ReportData, a: str, b: str) -> None:
    """Every metric with per-item scores that both models have: the paired test and what flipped."""
    ids = {m.id for m in data.models}
    missing = [name for name in (a, b) if name not in ids]
    if missing:
        raise RayevalError(f"--compare: no scored model {', '.join(missing)}; models: {', '.join(sorted(ids))}")
    found: list[Comparison] = []
    for bench in data.benchmarks:
        metrics = [m for m in bench.headline_metrics if m in data.items(a, bench.name)] + sorted(
            m for m in data.items(a, bench.name) if m not in bench.headline_metrics and "/" not in m
        )
        for metric in metrics:
            comparison = data.compare(a, b, bench.name, metric, "compare")
            if comparison is not None:
                found.append(comparison)
    if not found:
        raise RayevalError(f"{a} and {b} have no benchmark with per-item scores in common; score both with `rayeval evaluate` first")
    table = Table(title=f"{b} − {a} (paired bootstrap on the items both answered)")
    names = ["benchmark", "metric", "n", a, b, "B − A", "95% interval", "p", "verdict"]
    for name in names:
        table.add_column(name, no_wrap=True, justify="left" if name in ("benchmark", "metric", "verdict") else "right")
    cells = [[row[i] for i in (0, 1, 5, 6, 7, 8, 9, 10, 11)] for row in map(render.comparison_row, found)]
    for row in cells:
        table.add_row(*row)
    _wide(console, table, _width([names, *cells]))
    for c in (c for c in found if c.metric in data.headline_metrics(c.benchmark)):
        changed = flipped(data.items(a, c.benchmark)[c.metric], data.items(b, c.benchmark)[c.metric])
        if not changed:
            continue
        up = sum(1 for _, x, y in changed if y > x)
        shown = ", ".join(f"{item} ({render.number(x)}→{render.number(y)})" for item, x, y in changed[:FLIPPED_SHOWN])
        more = f" and {len(changed) - FLIPPED_SHOWN} more" if len(changed) > FLIPPED_SHOWN else ""
        console.print(
            f"{c.benchmark} {c.metric}: {len(changed)} items changed ({up} up, {len(changed) - up} down): {shown}{more}", highlight=False
        )


def _wide(console: Console, table: Table, width: int) -> None:
    """Print `table` at least `width` columns wide (a narrow terminal or a pipe never cuts a number)."""
    Console(file=console.file, width=max(console.width, width)).print(table)


def _width(rows: list[list[str]]) -> int:
    """Columns wide enough that no number is cut (rich's box: 3 characters per column, plus 1)."""
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(len(r) for r in rows))]
    return sum(widths) + 3 * len(widths) + 1
