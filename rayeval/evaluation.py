"""The evaluation phase: score whatever generation outputs exist, on Ray CPU tasks.

Each (model, benchmark) pair is one Ray task, so scoring runs beside generation on a cluster
and many checkpoints score in parallel. The driver alone writes the summaries file.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rayeval.benchmarks.base import Benchmark, EvalContext, Score
from rayeval.data import DataSource
from rayeval.errors import RayevalError
from rayeval.judge.config import JudgeConfig
from rayeval.options import OptionsModel, option_ref
from rayeval.settings import Settings
from rayeval.store import ResultStore


@dataclass
class EvalOutcome:
    """One (model, benchmark) evaluation: its scores and warnings, or why it failed/was skipped."""

    model_id: str
    benchmark: str
    scores: list[Score] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None


def _score(
    bench_name: str,
    model_id: str,
    out_dir: Path,
    data_dir: Path | None,
    options: OptionsModel,
    judge: JudgeConfig,
    judge_service: str | None,
    limit: int | None,
) -> tuple[list[Score], list[str], dict[str, str]]:
    """Body of the Ray task (also callable in-process)."""
    from rayeval import benchmarks
    from rayeval.report.summary import with_uncertainty

    data = DataSource(data_dir)
    ctx = EvalContext(model_id=model_id, out_dir=out_dir, data=data, options=options, judge=judge, judge_service=judge_service, limit=limit)
    bench = benchmarks.get(bench_name)
    scores = with_uncertainty(bench, out_dir, bench.evaluate(ctx))
    return scores, ctx.warnings, dict(data.used)


def record_scores(store: ResultStore, model_id: str, benchmark: str, scores: list[Score]) -> None:
    """Write a pair's summary rows, each with the model's place in its training run (`run`,
    `step`, `step_unit` from `run.json`), so summaries alone can be plotted over steps."""
    model = store.read_manifest(model_id).get("model") or {}
    place = {key: model.get(key) for key in ("run", "step", "step_unit")}
    store.write_scores(model_id, benchmark, [{**score.as_row(benchmark), **place} for score in scores])


def model_ids_to_score(model_inputs: list[str], store: ResultStore) -> list[str]:
    """Ids under the results folder, from model inputs or plain ids; all of them if none given."""
    from rayeval.builtin_models import builtin_model_id
    from rayeval.models import BUILTIN_PREFIX, resolve_models

    if not model_inputs:
        existing = store.model_ids()
        if not existing:
            raise RayevalError(f"no results under {store.root}; run `rayeval generate` first or pass {option_ref('run.results_dir')}")
        return existing
    ids: list[str] = []
    for model_input in model_inputs:
        if model_input.startswith(BUILTIN_PREFIX):
            ids.append(builtin_model_id(model_input[len(BUILTIN_PREFIX) :]))
        elif store.model_dir(model_input).is_dir() and "/" not in model_input:
            ids.append(model_input)
        else:
            ids.extend(spec.id for spec in resolve_models([model_input]))
    return list(dict.fromkeys(ids))


def plan_evaluations(
    model_ids: list[str], benches: list[Benchmark[Any]], store: ResultStore, skip_existing: bool
) -> tuple[list[tuple[str, Benchmark[Any]]], list[EvalOutcome]]:
    """Which pairs to score now, and which are skipped (no generations, or already scored)."""
    todo: list[tuple[str, Benchmark[Any]]] = []
    skipped: list[EvalOutcome] = []
    for model_id in model_ids:
        scored = {row.get("benchmark") for row in store.read_scores(model_id)}
        for bench in benches:
            out_dir = store.benchmark_dir(model_id, bench.results_dirname)
            if not store.generation_finished(model_id, bench):
                skipped.append(EvalOutcome(model_id, bench.name, skipped=f"no {bench.name} generations in {out_dir}"))
            elif skip_existing and bench.name in scored:
                skipped.append(EvalOutcome(model_id, bench.name, skipped=f"already scored ({option_ref('run.skip_existing')})"))
            else:
                todo.append((model_id, bench))
    return todo, skipped


def generation_limit(store: ResultStore, model_id: str, benchmark: str) -> int | None:
    """The `--limit` the generation of this pair ran with (from `run.json`), so a smoke run's
    partial outputs are scored on exactly the items they cover."""
    entry = store.read_manifest(model_id).get("benchmarks", {}).get(benchmark, {})
    return entry.get("limit")


class EvaluationRunner:
    """Scores (model, benchmark) pairs as Ray CPU tasks as they are handed in, and writes each
    pair's summary rows as soon as its task ends (the driver alone writes summaries).

    `rayeval evaluate` submits every pair at once; a sweep submits each pair the moment its
    generation files are written (it is the scheduler's `PairListener`), so scoring runs on CPUs
    while the engines go on. `judge_service` names the job's shared judge service, if one runs.
    """

    def __init__(
        self,
        store: ResultStore,
        settings: Settings,
        judge_service: str | None = None,
        hold_in_cluster_judging: bool = False,
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        """`hold_in_cluster_judging`: pairs whose scoring needs an in-cluster judge wait until
        `release_held` (a sweep's engines hold the resources that judge would start on).
        `on_recorded`: called after each pair's summary rows are written (a sweep refreshes its
        report there)."""
        self.store = store
        self.settings = settings
        self.judge_service = judge_service
        # The key is resolved here, on the driver: the scoring tasks and the judge service run in
        # Ray workers, which on a cluster reached with --address lack the driver's environment.
        judge = settings.judge
        self.judge = judge.model_copy(update={"cache_dir": judge.cache_dir or store.judge_cache_dir(), "api_key": judge.resolved_key()})
        self.outcomes: list[EvalOutcome] = []
        self.started_at: dict[tuple[str, str], float] = {}
        """When each pair's scoring was submitted (`time.time()`), for reports and tests."""
        self._running: dict[Any, tuple[str, Benchmark[Any]]] = {}
        self._task: Any = None
        self.hold_in_cluster_judging = hold_in_cluster_judging
        self.held: list[tuple[str, Benchmark[Any]]] = []
        self.on_recorded = on_recorded

    def submit(self, model_id: str, bench: Benchmark[Any]) -> None:
        """Start scoring one pair (or hold it, see `hold_in_cluster_judging`)."""
        import ray

        if self.hold_in_cluster_judging and any(j.in_cluster for j in bench.judges(self.settings.options_for(bench.name), self.judge)):
            self.held.append((model_id, bench))
            return
        if self._task is None:
            self._task = ray.remote(num_cpus=1, max_retries=0)(_score)
        ref = self._task.remote(
            bench.name,
            model_id,
            self.store.benchmark_dir(model_id, bench.results_dirname),
            self.settings.run.data_dir,
            self.settings.options_for(bench.name),
            self.judge,
            self.judge_service,
            generation_limit(self.store, model_id, bench.name),
        )
        self.started_at[(model_id, bench.name)] = time.time()
        self._running[ref] = (model_id, bench)

    def release_held(self) -> None:
        """Start the held pairs, and every later one at once."""
        self.hold_in_cluster_judging = False
        held, self.held = self.held, []
        for model_id, bench in held:
            self.submit(model_id, bench)

    def pair_written(self, model_id: str, benchmark: str) -> None:
        """`PairListener`: a pair's generation files are written, so score it now."""
        from rayeval.benchmarks import get

        self.submit(model_id, get(benchmark))

    def tick(self) -> None:
        """`PairListener`: collect whatever scoring has finished, without waiting."""
        self.collect(timeout=0.0)

    def collect(self, timeout: float | None) -> None:
        """Record the pairs whose scoring ended within `timeout` seconds (None: wait for all)."""
        import ray

        while self._running:
            ready, _ = ray.wait(list(self._running), num_returns=1, timeout=timeout)
            if not ready:
                return
            self._record(ready[0])

    def _record(self, ref: Any) -> None:
        import ray

        model_id, bench = self._running.pop(ref)
        outcome = EvalOutcome(model_id, bench.name)
        try:
            outcome.scores, outcome.warnings, used = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - any failure of one pair is that pair's error, the rest go on
            outcome.error = _one_line(exc)
        else:
            record_scores(self.store, model_id, bench.name, outcome.scores)
            self.store.update_manifest(model_id, {"evaluation": {bench.name: {"data_files": used}}})
        self.outcomes.append(outcome)
        if outcome.error is None and self.on_recorded is not None:
            self.on_recorded()

    def drain(self) -> list[EvalOutcome]:
        """Wait for every submitted pair; all outcomes so far, in the order they ended."""
        self.collect(timeout=None)
        return self.outcomes


@contextmanager
def job_judge_service() -> Iterator[str]:
    """A judge service for this job (`rayeval.judge.service`), by name, stopped on exit: every
    evaluation task of the job sends its judge requests there, so limits hold across models."""
    from rayeval.judge.service import start_judge_service, stop_judge_service

    name = f"rayeval-judge-{uuid.uuid4().hex[:12]}"
    start_judge_service(name)
    try:
        yield name
    finally:
        stop_judge_service(name)


def run_evaluations(todo: list[tuple[str, Benchmark[Any]]], store: ResultStore, settings: Settings) -> list[EvalOutcome]:
    """Score every pair on Ray, all judge calls through one judge service; write each pair's
    summary rows as soon as it finishes."""
    from rayeval.judge.service import grow_judges

    with job_judge_service() as service:
        grow_judges(service)  # nothing generates here: in-cluster judges may take every free GPU they are allowed
        runner = EvaluationRunner(store, settings, service)
        for model_id, bench in todo:
            runner.submit(model_id, bench)
        return runner.drain()


def _one_line(exc: BaseException) -> str:
    """A task's error as one line: a RayevalError's own message, else the exception's last line."""
    cause = getattr(exc, "cause", None) or exc
    if isinstance(cause, RayevalError):
        return str(cause)
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}"
