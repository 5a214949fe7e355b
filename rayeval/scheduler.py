"""The scheduler: dispatches shards to engine actors so every engine stays busy.

Rules, in order of importance:

1. **Nothing lost, nothing twice.** A shard is finished exactly once: its results are journaled
   when they arrive, a shard whose actor died is re-queued (a bounded number of times), and
   duplicates of a re-queued shard are ignored.
2. **Few model loads.** An engine keeps taking shards of the model it holds; when those run out
   it takes a model no engine is working on (in input order, so checkpoints finish in step
   order), and only then steals shards of the model with the most left.
3. **No idle engines.** Each engine has up to `depth` shards queued, so the next batch starts
   the moment the last one ends.
4. **One broken model never sinks the run.** A model that fails to load (or keeps failing) is
   recorded as failed, its remaining shards dropped, and everything else carries on.

The scheduler knows shards, models and engines; it never looks inside a request.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from rayeval.engine.actor import ShardOutcome
from rayeval.engine.pool import EngineHandle, EnginePool
from rayeval.plan import BenchmarkWork, Plan, Shard
from rayeval.config import SamplingConfig
from rayeval.requests import Result
from rayeval.store import ResultStore


class ProgressSink(Protocol):
    """Where the scheduler reports progress (rich bar, log lines, or nothing)."""

    def add_model(self, model_id: str, total: int) -> None: ...

    def advance(self, model_id: str, done: int, completion_tokens: int) -> None: ...

    def note(self, message: str) -> None: ...


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


def _is_actor_death(exc: BaseException) -> bool:
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

    return isinstance(exc, (RayActorError, ActorDiedError, ActorUnavailableError))


class Scheduler:
    """Runs a `Plan` on an `EnginePool`, journaling through a `ResultStore`."""

    def __init__(
        self,
        pool: EnginePool,
        store: ResultStore,
        sampling: SamplingConfig,
        progress: ProgressSink | None = None,
        max_attempts: int = 3,
        depth: int = 2,
    ) -> None:
        self.pool = pool
        self.store = store
        self.sampling = sampling
        self.progress = progress or SilentProgress()
        self.max_attempts = max_attempts
        self.depth = depth
        self.report = RunReport()
        self._pending: dict[str, deque[Shard]] = {}
        self._model_order: list[str] = []
        self._attempts: dict[str, int] = {}
        self._done_shards: set[str] = set()
        self._results: dict[tuple[str, str], dict[str, Result]] = {}
        self._left: dict[tuple[str, str], int] = {}
        self._work: dict[tuple[str, str], BenchmarkWork] = {}
        self._holding: dict[str, str | None] = {}
        self._inflight: dict[Any, tuple[EngineHandle, Shard]] = {}

    # -- setup ---------------------------------------------------------------------------------

    def _prepare(self, plan: Plan) -> None:
        for work in plan.work:
            pair = (work.model.id, work.benchmark.name)
            self._work[pair] = work
            self._results[pair] = {}
            self._left[pair] = len(work.shards)
            queue = self._pending.setdefault(work.model.id, deque())
            if work.model.id not in self._model_order:
                self._model_order.append(work.model.id)
                self.progress.add_model(work.model.id, sum(w.num_requests for w in plan.work if w.model.id == work.model.id))
            for shard in work.shards:
                journaled = self.store.load_shard(work.model.id, work.benchmark.name, shard.id)
                if journaled is not None and len(journaled) == len(shard.requests):
                    self.report.shards_resumed += 1
                    self._accept(shard, journaled, journal=False)
                else:
                    queue.append(shard)
        for pair, left in list(self._left.items()):
            if left == 0:
                self._finalize(pair)

    # -- choosing work -------------------------------------------------------------------------

    def _next_shard(self, handle: EngineHandle) -> Shard | None:
        held = self._holding.get(handle.name)
        if held and self._pending.get(held):
            return self._pending[held].popleft()
        waiting = [m for m in self._model_order if self._pending.get(m)]
        if not waiting:
            return None
        busy = {m for name, m in self._holding.items() if name != handle.name and m}
        untouched = [m for m in waiting if m not in busy]
        chosen = untouched[0] if untouched else max(waiting, key=lambda m: len(self._pending[m]))
        self._holding[handle.name] = chosen
        return self._pending[chosen].popleft()

    def _fill(self) -> None:
        for handle in list(self.pool.handles):
            while sum(1 for h, _ in self._inflight.values() if h is handle) < self.depth:
                shard = self._next_shard(handle)
                if shard is None:
                    return
                ref = handle.actor.run_shard.remote(shard.model, list(shard.requests), self.sampling)
                self._inflight[ref] = (handle, shard)

    # -- outcomes ------------------------------------------------------------------------------

    def _accept(self, shard: Shard, results: list[Result], journal: bool = True) -> None:
        if shard.id in self._done_shards or shard.model.id in self.report.failed_models:
            return
        pair = (shard.model.id, shard.benchmark)
        if journal:
            self.store.save_shard(shard.model.id, shard.benchmark, shard.id, results)
        self._done_shards.add(shard.id)
        self._results[pair].update((r.key, r) for r in results)
        self._left[pair] -= 1
        tokens = sum(r.completion_tokens for r in results)
        self.report.completion_tokens += tokens if journal else 0
        self.progress.advance(shard.model.id, len(results), tokens if journal else 0)
        if self._left[pair] == 0:
            self._finalize(pair)

    def _finalize(self, pair: tuple[str, str]) -> None:
        work = self._work[pair]
        out_dir = self.store.benchmark_dir(work.model.id, work.benchmark.results_dirname)
        try:
            work.benchmark.write_generations(out_dir, work.model.id, work.items, self._results.pop(pair))
        except Exception as exc:  # the journal stays, so a rerun can write the files again
            self._fail_model(work.model.id, f"writing {work.benchmark.name} outputs failed: {type(exc).__name__}: {exc}")
            return
        self.store.clear_journal(work.model.id, work.benchmark.name)
        self.report.finished.append(pair)

    def _fail_model(self, model_id: str, reason: str) -> None:
        if model_id in self.report.failed_models:
            return
        self.report.failed_models[model_id] = reason
        self._pending.pop(model_id, None)
        for name, held in self._holding.items():
            if held == model_id:
                self._holding[name] = None
        self.progress.note(f"[red]model {model_id} failed[/red]: {reason}")

    def _retry(self, shard: Shard, reason: str) -> None:
        if shard.id in self._done_shards or shard.model.id in self.report.failed_models:
            return
        self._attempts[shard.id] = self._attempts.get(shard.id, 1) + 1
        if self._attempts[shard.id] > self.max_attempts:
            self._fail_model(shard.model.id, f"a shard failed {self.max_attempts} times; last error: {reason}")
            return
        self.report.shards_retried += 1
        self._pending.setdefault(shard.model.id, deque()).appendleft(shard)

    def _engine_lost(self, handle: EngineHandle) -> None:
        if handle not in self.pool.handles:
            return  # already replaced on an earlier failed call
        self.report.engines_lost += 1
        self._holding.pop(handle.name, None)
        replacement = self.pool.replace(handle)
        self.progress.note(f"[yellow]{handle.name} lost[/yellow]; " + (f"replaced by {replacement.name}" if replacement else "continuing with fewer engines"))

    def _handle(self, ref: Any) -> None:
        import ray

        handle, shard = self._inflight.pop(ref)
        try:
            outcome: ShardOutcome = ray.get(ref)
        except Exception as exc:
            if _is_actor_death(exc):
                self._engine_lost(handle)
                self._retry(shard, f"engine lost ({type(exc).__name__})")
            else:
                self._retry(shard, str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__)
            return
        if outcome.load_error is not None:
            self._holding[handle.name] = None
            self._fail_model(shard.model.id, f"could not load {shard.model.path}: {outcome.load_error}")
            return
        if outcome.load_seconds:
            self.report.model_loads += 1
            self.report.load_seconds += outcome.load_seconds
        self.report.run_seconds += outcome.run_seconds
        self.report.shards_run += 1
        self.report.shards_by_engine[handle.name] = self.report.shards_by_engine.get(handle.name, 0) + 1
        self._accept(shard, outcome.results)

    # -- main loop -----------------------------------------------------------------------------

    def run(self, plan: Plan) -> RunReport:
        """Dispatch every pending shard; return when all are done or their models failed."""
        import ray

        started = time.perf_counter()
        self._prepare(plan)
        while True:
            self._fill()
            if not self._inflight:
                stranded = [m for m in self._model_order if self._pending.get(m)]
                if not stranded:
                    break
                if not self.pool.handles:
                    for model_id in stranded:
                        self._fail_model(model_id, "no engine left to run it (all engines were lost)")
                    break
                time.sleep(0.1)
                continue
            ready, _ = ray.wait(list(self._inflight), num_returns=1, timeout=1.0)
            for ref in ready:
                self._handle(ref)
        self.report.wall_seconds = time.perf_counter() - started
        return self.report
