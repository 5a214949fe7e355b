"""`rayeval sweep`: generate, score and judge every model of a run in one job, pipelined.

The engines generate as `rayeval generate` does; the moment a (model, benchmark) pair's files are
written, its scoring starts as a Ray CPU task (the `EvaluationRunner` is the scheduler's
`PairListener`), so checkpoint 1 is scored while checkpoint 20 still generates. Every judged
request of every model goes through one judge service for the whole job, so concurrency and
rate limits hold across models. One failing checkpoint or benchmark is recorded and the others
finish.

In-cluster judges: the layout leaves their GPUs free when the engines still fit on the rest
(`in_cluster_judge_groups`), so judged scoring runs beside generation; otherwise (a CPU-only
cluster, or no GPUs to spare) the pairs that need such a judge are held until generation is
over (with `--watch`, until the watch ends), since a judge could not get its resources before
and would fail after its placement timeout. When generation is over the judges may grow onto the
engines' GPUs (`--judge-max-replicas`).

A sweep always resumes: pairs whose generation files exist are not generated again (finished
shards of a half-done pair come from the journal), and pairs are scored again unless
`--skip-existing` finds their summary rows (scoring is seconds; judge answers come from the
cache, so only judge calls that never succeeded are sent).

With `--watch` (`Watching`) the sweep goes on after the models it started with: it polls the run
folders (`rayeval.watch.CheckpointWatcher`) and runs each checkpoint that became ready as one more
round of plan + generation, with the same judge service and the same `EvaluationRunner`, so the
scoring of earlier rounds goes on while later ones generate and the job's judge limits still hold.
The trade-off of rounds: each round starts its engines again (Ray actors and their vLLM engines),
and checkpoints that become ready while a round generates wait for it to end. Both are small next
to the model load a new checkpoint needs anyway and the tens of minutes between checkpoints of a
training run, and a round is exactly `rayeval generate` of those checkpoints, with nothing new to
keep right. Ctrl-C stops generating and watching, lets the scoring in flight finish and returns
what was done (a second Ctrl-C stops at once); models whose generation it cut short are reported
as failed (a rerun resumes them).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rayeval.data import DataSource
from rayeval.engine.actor import EngineFactory
from rayeval.engine.placement import EngineLayout
from rayeval.evaluation import EvalOutcome, EvaluationRunner, job_judge_service
from rayeval.generation import GenerateRequest, make_plan, run_generation
from rayeval.judge.service import grow_judges
from rayeval.models import ModelSpec
from rayeval.plan import Plan
from rayeval.scheduler import ProgressSink, RunReport
from rayeval.store import ResultStore
from rayeval.watch import CheckpointWatcher, Clock, WatchUntil, until_met

INTERRUPTED = "interrupted (Ctrl-C) before its generation finished; rerun the sweep to resume it"


@dataclass
class SweepReport:
    """What a sweep did: the generation runs, every scoring outcome, and what failed."""

    models: list[ModelSpec] = field(default_factory=list)
    """Every model the sweep took, in the order it took them."""
    generation: RunReport = field(default_factory=RunReport)
    """The generation of every round, added up."""
    outcomes: list[EvalOutcome] = field(default_factory=list)
    scoring_started_at: dict[tuple[str, str], float] = field(default_factory=dict)
    taken_at: dict[str, float] = field(default_factory=dict)
    """When each model's round started (`time.time()`), for reports and tests."""
    interrupted: list[str] = field(default_factory=list)
    """Models whose generation Ctrl-C cut short."""

    def failures(self) -> list[tuple[str, str, str]]:
        """(model id, benchmark or "generation", reason) of everything that failed."""
        failed = [(model_id, "generation", reason) for model_id, reason in self.generation.failed_models.items()]
        failed += [(model_id, "generation", INTERRUPTED) for model_id in self.interrupted]
        failed += [(model_id, bench, reason) for (model_id, bench), reason in self.generation.incomplete.items()]
        failed += [(o.model_id, o.benchmark, o.error) for o in self.outcomes if o.error]
        return failed


@dataclass
class Watching:
    """How a sweep follows its run folders after the first models (`--watch`): the watcher that
    hands over ready checkpoints, when to stop, how often to look, and the clock and sleep
    (injected, so tests control time)."""

    watcher: CheckpointWatcher
    until: WatchUntil | None
    poll_s: float
    clock: Clock = time.time
    sleep: Callable[[float], None] = time.sleep


def resumable(request: GenerateRequest) -> GenerateRequest:
    """The request a sweep plans with: pairs whose generation files exist are never redone."""
    run = request.settings.run.model_copy(update={"skip_existing": True})
    return dataclasses.replace(request, settings=dataclasses.replace(request.settings, run=run))


def in_cluster_judge_groups(request: GenerateRequest) -> list[int]:
    """The GPUs of each in-cluster judge replica the sweep's benchmarks will start (`tp` per
    replica, one entry each), for the layout to leave free (`choose_layout(judge_groups=)`)."""
    from rayeval.judge.service import JudgeKey

    settings = request.settings
    judges = {
        JudgeKey.of(judge): judge
        for bench in request.benchmarks
        for judge in bench.judges(settings.options_for(bench.name), settings.judge)
        if judge.in_cluster
    }
    return [judge.tp for judge in judges.values() for _ in range(judge.replicas)]


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
    watching: Watching | None = None,
) -> SweepReport:
    """Run `plan` with scoring pipelined behind it, then (with `watching`) each checkpoint that
    becomes ready; return when everything is scored or failed, or after Ctrl-C."""
    from rayeval.report.build import refresh_report
    from rayeval.report.refresher import ReportRefresher

    report = SweepReport()
    started = watching.clock() if watching is not None else 0.0
    refresher = ReportRefresher(store, request.settings.report, progress.note)  # the report follows the scores as they land
    with job_judge_service() as service:
        runner = EvaluationRunner(store, request.settings, service, not layout.judge_room, on_recorded=refresher.request)
        rounds = _Rounds(request, data, store, layout, progress, engine_factory, runner, report)
        try:
            rounds.run(plan)
            if watching is not None:
                _follow(watching, rounds, started)
            grow_judges(service)  # generation is over: in-cluster judges may take the engines' GPUs
            runner.release_held()
        except KeyboardInterrupt:
            progress.note("interrupted: finishing the scoring already started (Ctrl-C again to stop at once)")
        report.outcomes = runner.drain()
    refresher.close()
    report.scoring_started_at = dict(runner.started_at)
    if any(outcome.error is None for outcome in report.outcomes):
        refresh_report(store, request.settings.report, final=True)
    return report


@dataclass
class _Rounds:
    """Runs one plan after another in the same job: the same judge service and scoring runner,
    every round's generation added to the one report."""

    request: GenerateRequest
    data: DataSource
    store: ResultStore
    layout: EngineLayout
    progress: ProgressSink
    engine_factory: EngineFactory | None
    runner: EvaluationRunner
    report: SweepReport

    def run_models(self, models: list[ModelSpec]) -> None:
        """One more round, for `models`."""
        request = dataclasses.replace(self.request, models=models)
        self.run(plan_sweep(request, self.data, self.store, self.layout))

    def run(self, plan: Plan) -> None:
        taken_at = time.time()
        for model in plan.models:
            self.report.models.append(model)
            self.report.taken_at[model.id] = taken_at
        for model_id, bench in _already_generated(plan, self.request, self.store):
            self.runner.submit(model_id, bench)
        if not plan.work:
            return
        try:
            generation = run_generation(
                self.request, plan, self.data, self.store, self.layout, self.progress, self.engine_factory, listener=self.runner
            )
        except KeyboardInterrupt:
            written = set(self.runner.started_at)
            cut_short = {w.model.id for w in plan.work if (w.model.id, w.benchmark.name) not in written}
            self.report.interrupted += [model.id for model in plan.models if model.id in cut_short]
            raise
        _add_up(self.report.generation, generation)


def _follow(watching: Watching, rounds: _Rounds, started: float) -> None:
    """Poll for ready checkpoints and run each batch of them as a round, until `watching.until`
    is met (or Ctrl-C, which the caller handles)."""
    until = watching.until
    while not until_met(until, rounds.report.models, watching.clock() - started):
        poll = watching.watcher.poll()
        for line in watching.watcher.news(poll):
            rounds.progress.note(line)
        if poll.ready:
            rounds.run_models(poll.ready)
        else:
            rounds.runner.tick()
            watching.sleep(watching.poll_s)
    if until is not None:
        rounds.progress.note(f"watch over: {until.describe()}")


def _add_up(total: RunReport, part: RunReport) -> None:
    """Add the generation report of one round to the sweep's: counts and times add up, lists
    are joined, and per-key entries are merged (per-engine shard counts add up)."""
    for name in (f.name for f in dataclasses.fields(RunReport)):
        mine, theirs = getattr(total, name), getattr(part, name)
        if isinstance(mine, list):
            mine.extend(theirs)
        elif isinstance(mine, dict):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value if isinstance(value, int | float) else value
        else:
            setattr(total, name, mine + theirs)


def _already_generated(plan: Plan, request: GenerateRequest, store: ResultStore) -> list[tuple[str, Any]]:
    """Pairs the plan skipped because their files exist, that still need scoring."""
    benches = {bench.name: bench for bench in plan.benchmarks}
    todo = []
    for model_id, name in plan.skipped:
        scored = {row.get("benchmark") for row in store.read_scores(model_id)}
        if not (request.settings.run.skip_existing and name in scored):
            todo.append((model_id, benches[name]))
    return todo
