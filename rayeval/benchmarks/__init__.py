"""The benchmark registry: built-in benchmarks plus the `rayeval.benchmarks` entry-point group.

Each built-in benchmark is a folder here whose `spec.py` defines `BENCHMARK`; a package outside
rayeval registers its own under the same entry-point group (see `rayeval.registry`). Spec modules
import only light modules at top level, so listing benchmarks (and building the command line from
their options) stays cheap; their scorers pull in heavy libraries when they run.
"""

from __future__ import annotations

from typing import Any

from rayeval.benchmarks.base import Benchmark
from rayeval.errors import RayevalError
from rayeval.registry import Registry

ENTRY_POINT_GROUP = "rayeval.benchmarks"

BENCHMARKS: Registry[Benchmark[Any]] = Registry(
    "benchmark",
    {
        "ifeval": "rayeval.benchmarks.ifeval.spec:BENCHMARK",
        "truthfulqa": "rayeval.benchmarks.truthfulqa.spec:BENCHMARK",
        "alpacaeval": "rayeval.benchmarks.alpacaeval.spec:BENCHMARK",
        "livebench": "rayeval.benchmarks.livebench.spec:BENCHMARK",
    },
    entry_point_group=ENTRY_POINT_GROUP,
    aliases={"alpacaeval2": "alpacaeval"},
)


def available() -> list[str]:
    """Names of every registered benchmark, built-ins first."""
    return BENCHMARKS.names()


def get(name: str) -> Benchmark[Any]:
    """The benchmark called `name` (case-insensitive); unknown names are a one-line error."""
    return BENCHMARKS.get(name.strip().lower())


def parse_list(names: list[str] | None) -> list[Benchmark[Any]]:
    """Benchmarks in the order given, without duplicates; None means every registered one."""
    chosen: dict[str, Benchmark[Any]] = {}
    for name in available() if names is None else names:
        bench = get(name)
        chosen.setdefault(bench.name, bench)
    if not chosen:
        raise RayevalError("no benchmark given; pass -b with one or more of: " + ", ".join(available()))
    return list(chosen.values())
