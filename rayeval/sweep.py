"""`rayeval sweep`: generate, score and judge every model of a run in one job, pipelined.

The engines generate as `rayeval generate` does; the moment a (model, benchmark) pair's files are
written, its scoring starts as a Ray CPU task (the `EvaluationRunner` is the scheduler's
`PairListener`), so checkpoint 1 is scored while checkpoint 20 still generates. Every judged
request of every model goes through one judge service for the whole job, so concurrency and
rate limits hold across models. One failing checkpoint or benchmark is recorded and the others
finish.

A sweep always resumes: pairs whose generation files exist are not generated again (finished
shards of a half-done pair come from the journal), and pairs are scored again unless
`--skip-existing` finds their summary rows (scoring is seconds; judge answers come from the
cache, so only judge calls that never succeeded are sent).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from rayeval.data import DataSource
from rayeval.engine.actor import EngineFactory
from rayeval.engine.placement import EngineLayout
from rayeval.evaluation import EvalOutcome, EvaluationRunner, job_judge_service
from rayeval.generation import GenerateRequest, make_plan, run_generation
from rayeval.models import ModelSpec
from rayeval.plan import Plan
from rayeval.scheduler import ProgressSink, RunReport
from rayeval.store import ResultStore


@dataclass
class SweepReport:
    """What a sweep did: the generation run, every scoring outcome, and what failed."""

    models: list[ModelSpec]
    generation: RunReport = field(default_factory=RunReport)
    outcomes: list[EvalOutcome] = field(default_factory=list)
    scoring_started_at: dict[tuple[str, str], float] = field(default_factory=dict)

    def failures(self) -> list[tuple[str, str, str]]:
        """(model id, benchmark or "generation", reason) of everything that failed."""
        failed = [(model_id, "generation", reason) for model_id, reason in self.generation.failed_models.items()]
        failed += [(o.model_id, o.benchmark, o.error) for o in self.outcomes if o.error]
        return failed


def resumable(request: GenerateRequest) -> GenerateRequest:
    """The request a sweep plans with: pairs whose generation files exist are never redone."""
    run = request.settings.run.model_copy(update={"skip_existing": True})
    return dataclasses.replace(request, settings=dataclasses.replace(request.settings, run=run))


def plan_sweep(request: GenerateRequest, data: DataSource, store: ResultStore, layout: EngineLayout) -> Plan:
    """The generation plan of a sweep (see `resumable`)."""
    return make_plan(resumable(request), data, store, layout.num_engines)


def run_sweep(
    request: GenerateRequest,
    plan: Plan,
    data: DataSource,
    store: ResultStore,
    layout: EngineLayout,
    progress: ProgressSink,
    engine_factory: EngineFactory | None = None,
) -> SweepReport:
    """Run `plan` with scoring pipelined behind it; return when everything is scored or failed."""
    report = SweepReport(models=plan.models)
    with job_judge_service() as service:
        runner = EvaluationRunner(store, request.settings, judge_service=service)
        for model_id, bench in _already_generated(plan, request, store):
            runner.submit(model_id, bench)
        if plan.work:
            report.generation = run_generation(request, plan, data, store, layout, progress, engine_factory, listener=runner)
        report.outcomes = runner.drain()
    report.scoring_started_at = dict(runner.started_at)
    return report


def _already_generated(plan: Plan, request: GenerateRequest, store: ResultStore) -> list[tuple[str, Any]]:
    """Pairs the plan skipped because their files exist, that still need scoring."""
    benches = {bench.name: bench for bench in plan.benchmarks}
    todo = []
    for model_id, name in plan.skipped:
        scored = {row.get("benchmark") for row in store.read_scores(model_id)}
        if not (request.settings.run.skip_existing and name in scored):
            todo.append((model_id, benches[name]))
    return todo
