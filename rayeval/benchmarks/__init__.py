"""Benchmark registry: every module here that defines `BENCHMARK` is a benchmark.

Plugins import only light modules at top level, so listing them stays cheap; their scorers pull
in heavy libraries when they run.
"""

from __future__ import annotations

import importlib
import pkgutil

from rayeval.benchmarks.base import Benchmark
from rayeval.errors import RayevalError

ALIASES = {"alpacaeval2": "alpacaeval"}


def available() -> list[str]:
    """Names of all implemented benchmarks, sorted."""
    names = []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_") or module.name == "base":
            continue
        if hasattr(importlib.import_module(f"{__name__}.{module.name}"), "BENCHMARK"):
            names.append(module.name)
    return sorted(names)


def get(name: str) -> Benchmark:
    """The plugin called `name`; an unknown name is a one-line error listing the available ones."""
    name = ALIASES.get(name.strip().lower(), name.strip().lower())
    names = available()
    if name not in names:
        raise RayevalError(f"benchmark {name!r} is not available; choose from: {', '.join(names)}")
    return importlib.import_module(f"{__name__}.{name}").BENCHMARK


def parse_list(spec: str) -> list[Benchmark]:
    """`"ifeval,truthfulqa"` → plugins, in the order given, without duplicates."""
    seen: dict[str, Benchmark] = {}
    for part in spec.split(","):
        if part.strip():
            bench = get(part)
            seen.setdefault(bench.name, bench)
    if not seen:
        raise RayevalError("no benchmark given; pass -b with one or more of: " + ", ".join(available()))
    return list(seen.values())
