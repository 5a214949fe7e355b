"""Summary rows with uncertainty: each metric that aggregates items gets its item count,
standard error and 95% interval (`stats.interval` over the benchmark's `item_scores`).

A metric whose scorer reports its own standard error (`Benchmark.own_stderr`, AlpacaEval) keeps
that one; without items (AlpacaEval's length-controlled win rate, a fitted GLM) its interval is
the normal one, value ± 1.96 standard errors.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rayeval.benchmarks.base import Benchmark, Score
from rayeval.report.stats import interval

NORMAL_95 = 1.959964
"""The 97.5% quantile of the standard normal: value ± this × stderr is a 95% interval."""


def with_uncertainty(bench: Benchmark[Any], out_dir: Path, scores: list[Score]) -> list[Score]:
    """`scores` with n, stderr and interval filled in where the result files allow."""
    items = bench.item_scores(out_dir)
    values = {score.metric: score.value for score in scores}
    filled = []
    for score in scores:
        if score.value is not None and score.metric in items and (found := interval(items[score.metric])) is not None:
            score = dataclasses.replace(score, n=found.n, stderr=found.stderr, ci_low=found.ci_low, ci_high=found.ci_high)
        own = values.get(bench.own_stderr.get(score.metric, ""))
        if score.value is not None and own is not None:
            if score.stderr is None:
                score = dataclasses.replace(score, ci_low=score.value - NORMAL_95 * own, ci_high=score.value + NORMAL_95 * own)
            score = dataclasses.replace(score, stderr=own)
        filled.append(score)
    return filled
