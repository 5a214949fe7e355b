"""The scheduler: the Ray loop that keeps every engine actor busy with shards.

What to run where (affinity, stealing, queue depth, bounded retries, failing a broken model,
finishing each shard exactly once) is decided by `rayeval.dispatch.Dispatcher`, plain Python
whose module docstring states the rules. This module only carries those decisions out: it sends
the chosen shard to the chosen engine (`run_shard.remote`), waits for outcomes (`ray.wait`),
feeds them back to the dispatcher, journals results through the `ResultStore`, writes a
(model, benchmark) pair's outputs when its last shard arrives, replaces lost engines, and keeps
the `RunReport` statistics.

Per-item failures (an API request that failed for good comes back as a `FailedResult`): the
shard is journaled with its failure records like any finished shard, but a (model, benchmark)
pair that holds one is not written: it is reported in `RunReport.incomplete`, its journal stays,
and the next run sends only the failed requests of each journaled shard again (the shard keeps
its id; the fresh results replace the failures in its journal entry). So no scorer ever sees a
failed item as an empty answer, and a rerun completes the pair.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from rayeval.config import SamplingConfig
from rayeval.dispatch import Dispatcher, Finish, Retry
from rayeval.engine.actor import ShardOutcome
from rayeval.engine.pool import EngineHandle, EnginePool, lane_of
from rayeval.plan import BenchmarkWork, Plan, Shard
from rayeval.requests import Result, is_failure, merge_results, retry_requests
from rayeval.store import ResultStore


class ProgressSink(Protocol):
    """Where the scheduler reports progress (rich bar, log lines, or nothing)."""

    def add_model(self, model_id: str, total: int) -> None: ...

    def advance(self, model_id: str, done: int, completion_tokens: int) -> None: ...

    def note(self, message: str) -> None: ...


class PairListener(Protocol):
    """Who wants to know, while the run goes on, that a (model, benchmark) pair's outputs are
    written (a sweep starts scoring it), and gets a turn on each pass of the loop."""

    def pair_written(self, model_id: str, benchmark: str) -> None: ...

    def tick(self) -> None: ...


class SilentProgress:
    """A progress sink that reports nothing (library use, tests)."""

    def add_model(self, model_id: str, total: int) -> None:
        pass

    def advance(self, model_id: str, done: int, completion_tokens: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass
class RunReport:
    """What happened: finished pairs, failed models (with reasons), and engine statistics."""

    finished: list[tuple[str, str]] = field(default_factory=list)
    failed_models: dict[str, str] = field(default_factory=dict)
    model_loads: int = 0
    load_seconds: float = 0.0
    run_seconds: float = 0.0
    completion_tokens: int = 0
    shards_run: int = 0
    shards_resumed: int = 0
    shards_retried: int = 0
    engines_lost: int = 0
    shards_by_engine: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    incomplete: dict[tuple[str, str], str] = field(default_factory=dict)
    """Pairs not written because some requests failed for good: why (a rerun retries them)."""


def _is_actor_death(exc: BaseException) -> bool:
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

    return isinstance(exc, (RayActorError, ActorDiedError, ActorUnavailableError))


OUT_OF_MEMORY = (
    "killed by Ray's memory monitor: the node ran out of host memory; run fewer engines or other jobs on it, "
    "or lower ⟨engine.gpu_memory_utilization⟩ (on CPUs it is the share of the NUMA node's memory vLLM reserves)"
)


def _failure_reason(exc: BaseException) -> str:
    """One line for a failed shard call: Ray's out-of-memory kill as what to do about it (its own
    message is a page whose last line is cut mid-sentence), else the error's last line."""
    from ray.exceptions import OutOfMemoryError

    if isinstance(exc, OutOfMemoryError):
        return OUT_OF_MEMORY
    text = str(exc).strip()
    return text.splitlines()[-1][:300] if text else type(exc).__name__


class Scheduler:
    """Runs a `Plan` on an `EnginePool`, journaling through a `ResultStore`.

    The `Dispatcher` decides; the scheduler does the I/O around its decisions and counts.
    """

    def __init__(
        self,
        pool: EnginePool,
        store: ResultStore,
        sampling: SamplingConfig,
        progress: ProgressSink | None = None,
        max_attempts: int = 3,
        depth: int = 2,
        listener: PairListener | None = None,
    ) -> None:
        self.pool = pool
        self.listener = listener
        self.store = store
        self.sampling = sampling
        self.progress = progress or SilentProgress()
        self.max_attempts = max_attempts
        self.depth = depth
        self.report = RunReport()
        self.dispatch: Dispatcher[Shard] = Dispatcher(max_attempts=max_attempts, depth=depth)
        self._work: dict[tuple[str, str], BenchmarkWork] = {}
        self._results: dict[tuple[str, str], dict[str, Result]] = {}
        """Per (model, benchmark), results gathered so far, keyed by request key, until written."""
        self._earlier: dict[str, list[Result]] = {}
        """Per shard id, the journaled results of a shard whose failed requests run again."""
        self._in_flight: dict[Any, tuple[EngineHandle, Shard]] = {}
        """Per Ray object ref of a `run_shard` call, the engine running it and its shard."""

    # -- setup ---------------------------------------------------------------------------------

    def _prepare(self, plan: Plan) -> None:
        complete: list[tuple[str, str]] = []
        models_seen: set[str] = set()
        for work in plan.work:
            pair = (work.model.id, work.benchmark.name)
            if work.model.id not in models_seen:
                models_seen.add(work.model.id)
                self.progress.add_model(work.model.id, sum(w.num_requests for w in plan.work if w.model.id == work.model.id))
            self._work[pair] = work
            self._results[pair] = {}
            journaled: dict[str, list[Result]] = {}
            shards: list[Shard] = []
            for shard in work.shards:
                results = self.store.load_shard(work.model.id, work.benchmark.name, shard.id)
                if results is None or len(results) != len(shard.requests):
                    shards.append(shard)
                elif retry := retry_requests(shard.requests, results):
                    self._earlier[shard.id] = results  # only its failed requests run again
                    shards.append(dataclasses.replace(shard, requests=tuple(retry)))
                    self.progress.advance(work.model.id, len(results) - len(retry), 0)
                else:
                    journaled[shard.id] = results
                    shards.append(shard)
            if self.dispatch.add_pair(work.model.id, work.benchmark.name, shards, already_finished=journaled, lane=lane_of(work.model)):
                complete.append(pair)
            for results in journaled.values():
                self.report.shards_resumed += 1
                self._results[pair].update((r.key, r) for r in results)
                self.progress.advance(work.model.id, len(results), 0)
        # Written only once every pair is registered: a failed write fails the model, which must
        # then also drop the shards of its later pairs.
        for pair in complete:
            self._finalize(pair)

    # -- sending work --------------------------------------------------------------------------

    def _fill(self) -> None:
        """Top every engine up to the dispatcher's depth."""
        for handle in list(self.pool.handles):
            while (shard := self.dispatch.next_shard(handle.name, handle.lane)) is not None:
                ref = handle.actor.run_shard.remote(shard.model, list(shard.requests), self.sampling)
                self._in_flight[ref] = (handle, shard)

    # -- outcomes ------------------------------------------------------------------------------

    def _handle(self, ref: Any) -> None:
        import ray

        handle, shard = self._in_flight.pop(ref)
        try:
            outcome: ShardOutcome = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - any failed call (dead actor, task error) is a retry
            if _is_actor_death(exc):
                self._engine_lost(handle)
                self._retry(shard, f"engine lost ({type(exc).__name__})")
            else:
                self._retry(shard, _failure_reason(exc))
            return
        if outcome.load_error is not None:
            if self.dispatch.load_failed(shard, f"could not load {shard.model.path}: {outcome.load_error}"):
                self._model_failed(shard.model.id)
            return
        if outcome.load_seconds:
            self.report.model_loads += 1
            self.report.load_seconds += outcome.load_seconds
        self.report.run_seconds += outcome.run_seconds
        self.report.shards_run += 1
        self.report.shards_by_engine[handle.name] = self.report.shards_by_engine.get(handle.name, 0) + 1
        self._accept(shard, outcome.results)

    def _accept(self, shard: Shard, results: list[Result]) -> None:
        verdict = self.dispatch.finish(shard)
        if verdict is Finish.IGNORED:
            return
        # The freed engine gets its next shard before this one's results are journaled and its
        # pair's outputs written (20-40 ms of driver time a shard), so it does not wait on that I/O:
        # bench_sweep_makespan.py --quick, 8 engines, 402-435 → 357-392 modelled s.
        self._fill()
        pair = (shard.model.id, shard.benchmark)
        tokens = sum(r.completion_tokens for r in results)
        answered = sum(not is_failure(r) for r in results)
        earlier = self._earlier.pop(shard.id, None)
        if earlier is not None:
            results = merge_results(earlier, results)
        self.store.save_shard(shard.model.id, shard.benchmark, shard.id, results)
        self._results[pair].update((r.key, r) for r in results)
        self.report.completion_tokens += tokens
        self.progress.advance(shard.model.id, answered, tokens)
        if verdict is Finish.PAIR_COMPLETE:
            self._finalize(pair)

    def _finalize(self, pair: tuple[str, str]) -> None:
        work = self._work[pair]
        out_dir = self.store.benchmark_dir(work.model.id, work.benchmark.results_dirname)
        results = self._results.pop(pair)
        failed = [r for r in results.values() if is_failure(r)]
        if failed:  # not written, journal kept: the next run retries just these (module docstring)
            reason = f"{len(failed)} of {len(results)} requests failed, a rerun retries them; first: {getattr(failed[0], 'reason', '')}"
            self.report.incomplete[pair] = reason
            self.progress.note(f"[yellow]{work.model.id}/{work.benchmark.name} incomplete[/yellow]: {reason}")
            return
        try:
            work.benchmark.write_generations(out_dir, work.model.id, work.items, results)
        except Exception as exc:  # noqa: BLE001 - the journal stays, so a rerun can write the files again
            if self.dispatch.fail_model(work.model.id, f"writing {work.benchmark.name} outputs failed: {type(exc).__name__}: {exc}"):
                self._model_failed(work.model.id)
            return
        self.store.clear_journal(work.model.id, work.benchmark.name)
        self.report.finished.append(pair)
        if self.listener is not None:
            self.listener.pair_written(*pair)

    def _retry(self, shard: Shard, reason: str) -> None:
        verdict = self.dispatch.retry(shard, reason)
        if verdict is Retry.REQUEUED:
            self.report.shards_retried += 1
        elif verdict is Retry.MODEL_FAILED:
            self._model_failed(shard.model.id)

    def _model_failed(self, model_id: str) -> None:
        """Report a model the dispatcher has just failed (called once per model)."""
        reason = self.dispatch.failure(model_id) or "unknown reason"
        self.report.failed_models[model_id] = reason
        self.progress.note(f"[red]model {model_id} failed[/red]: {reason}")

    def _engine_lost(self, handle: EngineHandle) -> None:
        if handle not in self.pool.handles:
            return  # already replaced on an earlier failed call
        self.report.engines_lost += 1
        self.dispatch.engine_lost(handle.name)
        replacing = self.pool.replace(handle)
        self.progress.note(
            f"[yellow]{handle.name} lost[/yellow]; "
            + ("a replacement joins when the cluster has room" if replacing else "continuing with fewer engines")
        )

    def _admit_engines(self) -> None:
        """Engines whose placement groups became ready since the last pass start taking shards."""
        for handle in self.pool.admit_ready():
            self.progress.note(f"{handle.name} joined")

    # -- main loop -----------------------------------------------------------------------------

    def run(self, plan: Plan) -> RunReport:
        """Dispatch every pending shard; return when all are done or their models failed."""
        import ray

        started = time.perf_counter()
        self._prepare(plan)
        while True:
            self._admit_engines()
            self._fill()
            if not self._in_flight:
                stranded = self.dispatch.stranded()
                if not stranded:
                    break
                lanes = {handle.lane for handle in self.pool.handles} | ({None} if self.pool.pending else set())
                for model_id in self.dispatch.unserved(lanes):
                    if self.dispatch.fail_model(model_id, "no engine left to run it (all engines were lost)"):
                        self._model_failed(model_id)
                if not self.dispatch.stranded():
                    break
                time.sleep(0.1)
                continue
            ready, _ = ray.wait(list(self._in_flight), num_returns=1, timeout=1.0)
            for ref in ready:
                self._handle(ref)
            if self.listener is not None:
                self.listener.tick()
        self.report.wall_seconds = time.perf_counter() - started
        return self.report
