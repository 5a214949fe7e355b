"""rayeval.report.stats against hand-checked cases and scipy's own bootstrap on the same numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from rayeval.benchmarks.base import MetricItems
from rayeval.report.stats import RESAMPLES, aggregate, interval, paired


def items(values: list[float], **kwargs: object) -> MetricItems:
    return MetricItems({f"q{i:03d}": v for i, v in enumerate(values)}, **kwargs)  # type: ignore[arg-type]


def test_aggregation_by_hand() -> None:
    # mean: 3 of 4
    assert aggregate(items([1, 1, 0, 1])) == 0.75
    # ratio of sums (IFEval instruction level): prompts with 2/3 and 1/1 followed -> 3/4, not mean(2/3, 1) = 5/6
    ratio = MetricItems({"a": 2, "b": 1}, weights={"a": 3, "b": 1})
    assert aggregate(ratio) == 0.75
    # grouped (LiveBench): tasks t1 (1, 0) = 50, t2 (1) = 100 in category c1 -> 75; category c2 task t3 (0, 0, 1) = 33.3
    # overall = mean(75, 33.33) = 54.1666
    grouped = MetricItems(
        {"1": 1, "2": 0, "3": 1, "4": 0, "5": 0, "6": 1},
        groups={"1": ("c1", "t1"), "2": ("c1", "t1"), "3": ("c1", "t2"), "4": ("c2", "t3"), "5": ("c2", "t3"), "6": ("c2", "t3")},
        scale=100,
    )
    assert aggregate(grouped) == pytest.approx((75 + 100 / 3) / 2, rel=1e-15)
    assert aggregate(MetricItems({})) is None


def test_interval_of_a_mean_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    values = [float(v) for v in rng.random(300) < 0.7]
    result = interval(items(values))
    assert result is not None
    assert result.n == 300
    assert result.value == pytest.approx(np.mean(values), rel=1e-15)
    assert result.stderr == pytest.approx(scipy_stats.sem(values), rel=1e-12)
    reference = scipy_stats.bootstrap((np.array(values),), np.mean, n_resamples=20000, method="percentile", random_state=1)
    # two Monte Carlo estimates of the same percentiles: equal to about 0.1 of the half-width
    half_width = (reference.confidence_interval.high - reference.confidence_interval.low) / 2
    assert result.ci_low == pytest.approx(reference.confidence_interval.low, abs=0.15 * half_width)
    assert result.ci_high == pytest.approx(reference.confidence_interval.high, abs=0.15 * half_width)


def test_interval_is_reproducible_and_degenerate_when_items_agree() -> None:
    assert interval(items([0.0, 1.0, 1.0, 0.0])) == interval(items([0.0, 1.0, 1.0, 0.0]))
    constant = interval(items([1.0] * 10))
    assert constant is not None
    assert (constant.value, constant.stderr, constant.ci_low, constant.ci_high) == (1.0, 0.0, 1.0, 1.0)


def test_grouped_interval_resamples_within_groups() -> None:
    """Each task keeps its size: a task whose items all agree contributes a constant, so the
    overall interval only comes from the other task's spread."""
    groups = {**{f"a{i}": ("c", "a") for i in range(20)}, **{f"b{i}": ("c", "b") for i in range(20)}}
    values = {**{f"a{i}": 1.0 for i in range(20)}, **{f"b{i}": float(i % 2) for i in range(20)}}
    result = interval(MetricItems(values, groups=groups, scale=100))
    assert result is not None
    assert result.value == 75.0
    assert 50.0 <= result.ci_low < 75.0 < result.ci_high <= 100.0
    # the task-b mean of 20 coin flips has a standard error of ~11.2 points; halved by the average with task a
    assert result.stderr == pytest.approx(50 * math.sqrt(0.25 / 20), rel=0.1)


def test_paired_difference_matches_scipy_paired_bootstrap() -> None:
    rng = np.random.default_rng(3)
    a = (rng.random(400) < 0.6).astype(float)
    b = a.copy()
    flip = rng.random(400) < 0.15
    b[flip] = 1 - b[flip]  # B differs from A on ~15% of the items
    result = paired(items(list(a)), items(list(b)))
    assert result is not None
    assert result.n == 400
    assert result.diff == pytest.approx(b.mean() - a.mean(), abs=1e-15)
    reference = scipy_stats.bootstrap(
        (a, b),
        lambda x, y, axis=-1: y.mean(axis=axis) - x.mean(axis=axis),
        paired=True,
        n_resamples=20000,
        method="percentile",
        random_state=1,
    )
    half_width = (reference.confidence_interval.high - reference.confidence_interval.low) / 2
    assert result.ci_low == pytest.approx(reference.confidence_interval.low, abs=0.15 * half_width)
    assert result.ci_high == pytest.approx(reference.confidence_interval.high, abs=0.15 * half_width)


def test_paired_small_cases_by_hand() -> None:
    # identical models: no difference in any resample
    same = paired(items([1, 0, 1, 1]), items([1, 0, 1, 1]))
    assert same is not None
    assert (same.diff, same.ci_low, same.ci_high, same.p_value, same.within_noise) == (0.0, 0.0, 0.0, 1.0, True)
    # B wins every one of 30 items A lost: every resample has B ahead by exactly 1
    better = paired(items([0.0] * 30), items([1.0] * 30))
    assert better is not None
    assert (better.diff, better.ci_low, better.ci_high, better.p_value, better.within_noise) == (1.0, 1.0, 1.0, 0.0, False)
    # one flip out of 50 items, in B's favour: a resample has 0 to a few copies of it; P(0 copies) = (49/50)^50 = 36%,
    # so the interval reaches 0 and the difference is within noise
    one_flip = paired(items([0.0] * 50), items([1.0] + [0.0] * 49))
    assert one_flip is not None
    assert one_flip.ci_low == 0.0 and one_flip.within_noise
    assert one_flip.p_value == pytest.approx(2 * (49 / 50) ** 50, abs=4 / math.sqrt(RESAMPLES))


def test_paired_uses_only_common_items() -> None:
    a = MetricItems({"x": 1.0, "y": 0.0, "z": 1.0})
    b = MetricItems({"y": 1.0, "z": 1.0, "w": 0.0})
    result = paired(a, b)
    assert result is not None
    assert (result.n, result.a, result.b) == (2, 0.5, 1.0)
    assert paired(MetricItems({"x": 1.0}), MetricItems({"y": 1.0})) is None
