"""The one result format of the bench scripts: rows of (name, measured, target, ratio, pass).

Every script in bench/ ends with `emit(rows, args)`: it prints its rows as a table and, with
`--json PATH`, writes them as a JSON list of `{"name", "measured", "target", "ratio", "pass"}`
objects, which `bench/run_all` collects from each script and prints as one table
(`print_table`). `ratio` is measured ÷ target (or the comparison the target is stated in), `pass`
is null for a figure that is only reported. The bench folder is not a package: scripts import
this as `from _table import ...` (Python puts a script's own folder first on `sys.path`).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    """One measurement against its target."""

    name: str
    measured: str
    """The figure with its unit, e.g. "0.42 s" or "463.6 vs 151.5 tok/s"."""
    target: str
    """The target as text, e.g. "< 0.5 s", ">= 2.5x", or "reported" (no target)."""
    ratio: float | None
    passed: bool | None
    """None when the row is only reported."""

    @classmethod
    def at_least(cls, name: str, measured: str, ratio: float, target: float) -> Row:
        """A ratio (a speed-up, a share of an ideal) that must reach `target`."""
        return cls(name, measured, f">= {target:g}x", ratio, ratio >= target)

    @classmethod
    def at_most(cls, name: str, measured: str, value: float, limit: float, unit: str = "") -> Row:
        """A figure (seconds, an error) that must stay within `limit`; the ratio is value ÷ limit."""
        return cls(name, measured, f"<= {limit:g}{unit}", value / limit, value <= limit)

    @classmethod
    def reported(cls, name: str, measured: str, ratio: float | None = None) -> Row:
        """A figure shown for context, with no target."""
        return cls(name, measured, "reported", ratio, None)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "measured": self.measured, "target": self.target, "ratio": self.ratio, "pass": self.passed}


def add_table_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every bench script takes (run_all passes them): --quick and --json PATH."""
    parser.add_argument("--quick", action="store_true", help="the short version of the measurement (bench/run_all --quick)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the result rows to this file (for bench/run_all)")


def print_table(rows: list[dict[str, Any]]) -> None:
    """Rows (as JSON objects) as an aligned text table."""
    header = ("measurement", "measured", "target", "ratio", "pass")
    cells = [
        (
            str(row["name"]),
            str(row["measured"]),
            str(row["target"]),
            "" if row.get("ratio") is None else f"{row['ratio']:.3f}",
            {True: "PASS", False: "FAIL", None: "-"}[row.get("pass")],
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    for line in [header, tuple("-" * width for width in widths), *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def emit(rows: list[Row], args: argparse.Namespace) -> None:
    """Print `rows` as a table and, when the script was given --json PATH, write them there."""
    as_json = [row.as_json() for row in rows]
    print_table(as_json)
    if args.json is not None:
        args.json.write_text(json.dumps(as_json, indent=2) + "\n", encoding="utf-8")
