"""What a report shows, read from the result store: the models (with their place in a training
run), their summary rows, and the paired comparisons between them (`stats.paired` on the
benchmarks' per-item scores). No rendering here.

Comparisons, for every headline metric with per-item scores:
- consecutive checkpoints of each run (step order);
- each checkpoint against the run's best checkpoint on that metric;
- each checkpoint against each baseline (`--baselines`, default: the models outside any run).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from rayeval.benchmarks.base import Benchmark, MetricItems
from rayeval.errors import RayevalError
from rayeval.options import option_ref
from rayeval.report.stats import Paired, aggregate, paired
from rayeval.store import ResultStore


@dataclass(frozen=True)
class ReportModel:
    """One model as the report shows it. `kind`: `checkpoint` (a run and a step), `final` (a
    run's model without a step, e.g. its final/ folder), `api` (served behind an API) or `base`
    (anything else: base models, other models)."""

    id: str
    run: str | None
    step: int | None
    step_unit: str | None
    kind: str
    manifest: dict[str, Any] = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        return self.id if self.step is None else f"{self.id} ({self.step_unit or 'step'} {self.step})"


@dataclass(frozen=True)
class Comparison:
    """One paired test: B against A on `benchmark`/`metric`, and why these two are compared."""

    benchmark: str
    metric: str
    a: str
    b: str
    reason: str
    result: Paired

    @property
    def verdict(self) -> str:
        if self.result.within_noise:
            return "within noise"
        return "B better" if self.result.diff > 0 else "B worse"


def _model(store: ResultStore, model_id: str) -> ReportModel:
    manifest = store.read_manifest(model_id)
    entry = manifest.get("model") or {}
    run, step = entry.get("run"), entry.get("step")
    if run is not None and step is not None:
        kind = "checkpoint"
    elif run is not None:
        kind = "final"
    elif entry.get("api"):
        kind = "api"
    else:
        kind = "base"
    return ReportModel(model_id, run, step, entry.get("step_unit"), kind, manifest)


def select_models(store: ResultStore, wanted: Iterable[str]) -> list[ReportModel]:
    """Models with summaries, in report order (base/API models, then each run's checkpoints by
    step, then its final model); `wanted` names model ids or run names (none: every model)."""
    scored = [model_id for model_id in store.model_ids() if store.read_scores(model_id)]
    if not scored:
        raise RayevalError(f"no scored models under {store.root}; run `rayeval evaluate` first or pass {option_ref('run.results_dir')}")
    models = [_model(store, model_id) for model_id in scored]
    wanted = list(wanted)
    if wanted:
        runs = {m.run for m in models if m.run}
        unknown = [name for name in wanted if name not in scored and name not in runs]
        if unknown:
            raise RayevalError(
                f"{', '.join(unknown)}: no scored model or run of that name under {store.root}; "
                f"models: {', '.join(scored)}; runs: {', '.join(sorted(runs)) or 'none'}"
            )
        models = [m for m in models if m.id in wanted or m.run in wanted]
    order = {"base": 0, "api": 1, "checkpoint": 2, "final": 3}
    return sorted(models, key=lambda m: (m.run is not None, m.run or "", order[m.kind], m.step or 0, m.id))


@dataclass
class ReportData:
    """Everything a report shows, computed once: rows by (model, benchmark, metric), per-item
    scores on demand, and the comparisons."""

    store: ResultStore
    models: list[ReportModel]
    benchmarks: list[Benchmark[Any]]
    baselines: list[str]

    @cached_property
    def rows(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        return {(m.id, r["benchmark"], r["metric"]): r for m in self.models for r in self.store.read_scores(m.id)}

    def value(self, model_id: str, benchmark: str, metric: str) -> dict[str, Any] | None:
        row = self.rows.get((model_id, benchmark, metric))
        return row if row is not None and row.get("value") is not None else None

    @cached_property
    def headline(self) -> list[tuple[str, str]]:
        """(benchmark, metric) columns that some model has a value for, in benchmark order."""
        return [
            (b.name, metric)
            for b in self.benchmarks
            for metric in b.headline_metrics
            if any(self.value(m.id, b.name, metric) for m in self.models)
        ]

    def headline_metrics(self, benchmark: str) -> tuple[str, ...]:
        return next(b.headline_metrics for b in self.benchmarks if b.name == benchmark)

    def items(self, model_id: str, benchmark: str) -> dict[str, MetricItems]:
        """Per-item scores of one pair (read once)."""
        key = (model_id, benchmark)
        if key not in self._items:
            bench = next(b for b in self.benchmarks if b.name == benchmark)
            self._items[key] = bench.item_scores(self.store.benchmark_dir(model_id, bench.results_dirname))
        return self._items[key]

    def __post_init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, MetricItems]] = {}

    def runs(self) -> dict[str, list[ReportModel]]:
        """Each run's checkpoints in step order."""
        runs: dict[str, list[ReportModel]] = {}
        for m in self.models:
            if m.kind == "checkpoint" and m.run:
                runs.setdefault(m.run, []).append(m)
        return {run: sorted(ckpts, key=lambda m: m.step or 0) for run, ckpts in runs.items()}

    def compare(self, a: str, b: str, benchmark: str, metric: str, reason: str) -> Comparison | None:
        items_a, items_b = self.items(a, benchmark).get(metric), self.items(b, benchmark).get(metric)
        if items_a is None or items_b is None:
            return None
        result = paired(items_a, items_b)
        return None if result is None else Comparison(benchmark, metric, a, b, reason, result)

    @cached_property
    def comparisons(self) -> list[Comparison]:
        found: list[Comparison] = []
        for benchmark, metric in self.headline:
            for run, ckpts in self.runs().items():
                pairs = [(x.id, y.id, "consecutive checkpoints") for x, y in zip(ckpts, ckpts[1:])]
                best = self.best(ckpts, benchmark, metric)
                if best is not None:
                    pairs += [(best, m.id, f"vs best of {run}") for m in ckpts if m.id != best]
                pairs += [(base, m.id, "vs baseline") for base in self.baselines for m in ckpts if base != m.id]
                for a, b, reason in pairs:
                    comparison = self.compare(a, b, benchmark, metric, reason)
                    if comparison is not None:
                        found.append(comparison)
        return found

    def best(self, ckpts: list[ReportModel], benchmark: str, metric: str) -> str | None:
        scored = [(row["value"], m.id) for m in ckpts if (row := self.value(m.id, benchmark, metric))]
        return max(scored)[1] if scored else None

    def breakdown(self, benchmark: str) -> list[tuple[str, dict[str, float | None]]]:
        """Every metric of a benchmark (summary rows, then metrics only the per-item scores have,
        e.g. IFEval per instruction type) × model."""
        metrics = list(dict.fromkeys(metric for (_, b, metric) in self.rows if b == benchmark))
        extra = sorted({metric for m in self.models for metric in self.items(m.id, benchmark) if metric not in metrics})
        table = []
        for metric in metrics + extra:
            values: dict[str, float | None] = {}
            for m in self.models:
                row = self.rows.get((m.id, benchmark, metric))
                if row is not None:
                    values[m.id] = row.get("value")
                elif metric in self.items(m.id, benchmark):
                    values[m.id] = aggregate(self.items(m.id, benchmark)[metric])
            if any(v is not None for v in values.values()):
                table.append((metric, values))
        return table


def load_report(store: ResultStore, wanted: Iterable[str], baselines: list[str] | None) -> ReportData:
    """The report's data for the selected models; baselines default to the models outside any run."""
    from rayeval.benchmarks import BENCHMARKS

    models = select_models(store, wanted)
    ids = {m.id for m in models}
    if baselines:
        missing = [b for b in baselines if b not in ids]
        if missing:
            raise RayevalError(
                f"baseline {', '.join(missing)} is not among the reported models ({', '.join(sorted(ids))}); fix {option_ref('report.baselines')}"
            )
    chosen = baselines or [m.id for m in models if m.run is None]
    return ReportData(store, models, [BENCHMARKS.get(name) for name in BENCHMARKS.names()], chosen)


def flipped(a: MetricItems, b: MetricItems) -> list[tuple[str, float, float]]:
    """Items both models have whose scores differ, largest change first (then by id)."""
    changed = [(i, a.values[i], b.values[i]) for i in set(a.values) & set(b.values) if a.values[i] != b.values[i]]
    return sorted(changed, key=lambda t: (-abs(t[2] - t[1]), t[0]))
