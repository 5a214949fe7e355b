"""Dispatch policy: which shard goes to which engine, and what a shard's outcome means.

This is the scheduler's decision-making as plain data, with no Ray in sight, so every rule can
be unit-tested in milliseconds (tests/test_dispatch.py); `rayeval.scheduler` is the Ray loop
that carries these decisions out. Rules, in order of importance:

1. **Nothing lost, nothing twice.** A shard is finished exactly once: its results are journaled
   when they arrive, a shard whose call failed (e.g. its actor died) is re-queued at the front
   (a bounded number of times), and duplicates of a re-queued shard are ignored.
2. **Few model loads.** An engine keeps taking shards of the model it holds; when those run out
   it takes a model no other engine is working on (in input order, so checkpoints finish in step
   order), and only then steals shards of the model with the most left.
3. **No idle engines.** Each engine has up to `depth` shards in flight, so the next batch starts
   the moment the last one ends. A shard queued behind a running one can only run there, so
   an engine that is busy takes more only from the model it holds, and never that model's last
   pending shard: left pending, it goes to whichever engine frees up first (a slow node's engine
   would otherwise hold the run's last shards; the makespan of bench/bench_sweep_makespan.py's
   straggler scenario fell from 2.05× to 1.61× the lower bound in its pure simulation).
4. **One broken model never sinks the run.** A model that fails to load (or keeps failing) is
   recorded as failed, its pending shards are dropped, the engines holding it are released, and
   everything else carries on.
5. **Lanes.** A model and an engine each belong to a lane (a string, or None); an engine only
   takes shards of models in its own lane. Local checkpoints and the GPU/CPU vLLM engines are
   lane None; a model served behind an API has a lane of its own, served by the engine actor
   created for it, so API models never occupy a vLLM engine and vice versa. An engine that joins
   later (a replacement, a new node) is in lane None unless it says otherwise. A model whose lane
   no engine serves any more is `unserved`.

The core knows shards, models and engines by id; it never looks inside a request. Engines are
named by strings (the pool's engine names); a shard is anything with an `id`, a `model.id` and a
`benchmark` name, such as `rayeval.plan.Shard`.
"""

from __future__ import annotations

import enum
from collections import Counter, deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


class DispatchableShard(Protocol):
    """What the core needs to know of a shard: who it is, whose it is, which pair it counts for."""

    @property
    def id(self) -> str: ...

    @property
    def model(self) -> _Identified: ...

    @property
    def benchmark(self) -> str: ...


ShardT = TypeVar("ShardT", bound=DispatchableShard)


class Finish(enum.Enum):
    """What `Dispatcher.finish` made of a shard's results."""

    IGNORED = "ignored"
    """Already finished, or its model failed: the caller must not journal or count them."""
    ACCEPTED = "accepted"
    """First results for this shard: journal and count them."""
    PAIR_COMPLETE = "pair complete"
    """Accepted, and it was the last shard of its (model, benchmark) pair: write the outputs."""


class Retry(enum.Enum):
    """What `Dispatcher.retry` did with a shard whose call failed."""

    IGNORED = "ignored"
    """Already finished, or its model failed: nothing to do."""
    REQUEUED = "requeued"
    """Back at the front of its model's queue for another attempt."""
    MODEL_FAILED = "model failed"
    """Out of attempts: its model is now failed (see `Dispatcher.failure`)."""


@dataclass
class ModelWork(Generic[ShardT]):
    """Everything the core tracks for one model.

    Grouping per model (rather than parallel maps keyed by model id) makes "fail this model" a
    matter of one record: its queue is dropped and its reason kept in the same place.
    """

    model_id: str
    pending: deque[ShardT] = field(default_factory=deque)
    """Shards not yet sent to an engine; retries go back to the front so they finish soonest."""
    shards_left: Counter[str] = field(default_factory=Counter)
    """Per benchmark, shards not yet finished: 0 means the pair's outputs can be written."""
    finished: set[str] = field(default_factory=set)
    """Ids of finished shards, so a duplicate result is recognised and ignored."""
    failed_attempts: Counter[str] = field(default_factory=Counter)
    """Per shard id, how many of its calls failed, to bound retries."""
    failure: str | None = None
    """Why the model failed; a failed model takes no more work and accepts no more results."""
    lane: str | None = None
    """Only engines of this lane run the model's shards (see rule 5)."""


@dataclass
class EngineSlot:
    """What the core tracks for one engine: the model it holds and the shards it is running.

    `held_model` is the model the engine last took work for; it drives affinity (keep loading
    nothing new) and tells other engines which models are already being worked on.
    """

    held_model: str | None = None
    in_flight: set[str] = field(default_factory=set)
    lane: str | None = None


class Dispatcher(Generic[ShardT]):
    """The scheduler's state and rules; see the module docstring for the rules themselves.

    Use: `add_pair` for every (model, benchmark) pair in input order, then repeatedly ask
    `next_shard(engine)` and report each dispatched shard's outcome with exactly one of `finish`,
    `retry` or `load_failed`.
    """

    def __init__(self, max_attempts: int = 3, depth: int = 2) -> None:
        if max_attempts < 1 or depth < 1:
            raise ValueError(f"max_attempts and depth must be at least 1 (got {max_attempts}, {depth})")
        self.max_attempts = max_attempts
        self.depth = depth
        self._models: dict[str, ModelWork[ShardT]] = {}  # insertion order is input order
        self._engines: dict[str, EngineSlot] = {}

    # -- setup ---------------------------------------------------------------------------------

    def add_pair(
        self, model_id: str, benchmark: str, shards: Iterable[ShardT], already_finished: Collection[str] = (), lane: str | None = None
    ) -> bool:
        """Register one (model, benchmark) pair and queue its shards not in `already_finished`.

        `already_finished` holds ids of shards an earlier run journaled: they count as done and
        are never dispatched. Returns True when nothing is left to run for the pair (no shards, or
        all of them finished), so the caller can write its outputs straight away. `lane`: which
        engines may run the model (rule 5; the same for every pair of a model).
        """
        model = self._models.setdefault(model_id, ModelWork(model_id, lane=lane))
        if model.lane != lane:
            raise ValueError(f"model {model_id} registered in lane {model.lane!r}, then in {lane!r}")
        model.shards_left[benchmark] += 0  # a pair with no shards still exists (and is complete)
        for shard in shards:
            if shard.id in already_finished:
                model.finished.add(shard.id)
                continue
            model.shards_left[benchmark] += 1
            if model.failure is None:
                model.pending.append(shard)
        return model.shards_left[benchmark] == 0

    # -- choosing work -------------------------------------------------------------------------

    def next_shard(self, engine: str, lane: str | None = None) -> ShardT | None:
        """The shard `engine` (of `lane`) should run next, now counted as in flight on it.

        None when the engine already has `depth` shards in flight or no shard of its lane is
        pending.
        """
        slot = self._engines.setdefault(engine, EngineSlot(lane=lane))
        if len(slot.in_flight) >= self.depth:
            return None
        if slot.in_flight:  # queued behind a running shard: only more of its model, never the last (rule 3)
            model = self._models.get(slot.held_model) if slot.held_model else None
            if model is None or len(model.pending) < 2:
                return None
        else:
            model = self._choose_model(engine, slot)
        if model is None:
            return None
        slot.held_model = model.model_id
        shard = model.pending.popleft()
        slot.in_flight.add(shard.id)
        return shard

    def _choose_model(self, engine: str, slot: EngineSlot) -> ModelWork[ShardT] | None:
        held = self._models.get(slot.held_model) if slot.held_model else None
        if held is not None and held.pending:
            return held  # affinity: no model load at all
        waiting = [m for m in self._models.values() if m.pending and m.lane == slot.lane]
        if not waiting:
            return None
        busy = {other.held_model for name, other in self._engines.items() if name != engine}
        untouched = [m for m in waiting if m.model_id not in busy]
        if untouched:
            return untouched[0]  # input order: checkpoints finish in step order
        # Everything is being worked on: help where the most is left (max keeps the first on ties).
        return max(waiting, key=lambda m: len(m.pending))

    # -- outcomes ------------------------------------------------------------------------------

    def finish(self, shard: ShardT) -> Finish:
        """Record that `shard`'s results arrived. Only the first arrival counts.

        A later duplicate (e.g. of a shard re-queued after a failed call) or results for a model
        that has failed meanwhile are IGNORED, so nothing is journaled or counted twice.
        """
        self._release(shard)
        model = self._models[shard.model.id]
        if model.failure is not None or shard.id in model.finished:
            return Finish.IGNORED
        model.finished.add(shard.id)
        model.shards_left[shard.benchmark] -= 1
        return Finish.PAIR_COMPLETE if model.shards_left[shard.benchmark] == 0 else Finish.ACCEPTED

    def retry(self, shard: ShardT, reason: str) -> Retry:
        """Record that `shard`'s call failed: re-queue it at the front, or fail its model.

        The shard gets `max_attempts` calls in all; a shard that keeps failing most likely
        breaks whatever runs it, so its model fails rather than taking engines down one by one.
        """
        self._release(shard)
        model = self._models[shard.model.id]
        if model.failure is not None or shard.id in model.finished:
            return Retry.IGNORED
        model.failed_attempts[shard.id] += 1
        if model.failed_attempts[shard.id] >= self.max_attempts:
            self.fail_model(model.model_id, f"a shard failed {self.max_attempts} times; last error: {reason}")
            return Retry.MODEL_FAILED
        model.pending.appendleft(shard)
        return Retry.REQUEUED

    def load_failed(self, shard: ShardT, reason: str) -> bool:
        """Record that an engine could not load `shard`'s model: no retry can help, the model fails.

        Returns True when this call failed the model (False if it had already failed).
        """
        self._release(shard)
        return self.fail_model(shard.model.id, reason)

    def fail_model(self, model_id: str, reason: str) -> bool:
        """Give up on a model: drop its pending shards and release the engines holding it.

        Released engines pick other models at once instead of waiting on a model that will never
        finish. Shards of it still in flight are IGNORED when they come back. Returns True when
        this call failed the model (False if it had already failed: the first reason is kept).
        """
        model = self._models[model_id]
        if model.failure is not None:
            return False
        model.failure = reason
        model.pending.clear()
        for slot in self._engines.values():
            if slot.held_model == model_id:
                slot.held_model = None
        return True

    def engine_lost(self, engine: str) -> None:
        """Forget a dead engine: it holds no model and runs nothing any more.

        Its in-flight shards are not re-queued here: each of their calls fails on its own and
        comes back through `retry`, which counts the attempt (re-queuing them here too would
        queue them twice).
        """
        self._engines.pop(engine, None)

    def _release(self, shard: ShardT) -> None:
        """Free the engine slot `shard` occupied (a shard is in flight on at most one engine)."""
        for slot in self._engines.values():
            slot.in_flight.discard(shard.id)

    # -- queries -------------------------------------------------------------------------------

    def stranded(self) -> list[str]:
        """Models (input order) that still have shards waiting for an engine."""
        return [m.model_id for m in self._models.values() if m.pending]

    def unserved(self, lanes: Collection[str | None]) -> list[str]:
        """Models (input order) with shards waiting whose lane is not among `lanes` (the lanes of
        the engines that exist or may still join): nothing will ever run them."""
        return [m.model_id for m in self._models.values() if m.pending and m.lane not in lanes]

    def failure(self, model_id: str) -> str | None:
        """Why `model_id` failed, or None while it has not."""
        return self._models[model_id].failure

    def held_model(self, engine: str) -> str | None:
        """The model `engine` took its last work for (None: fresh, released or lost)."""
        slot = self._engines.get(engine)
        return slot.held_model if slot else None

    def in_flight(self, engine: str) -> int:
        """How many shards `engine` is running or has queued."""
        slot = self._engines.get(engine)
        return len(slot.in_flight) if slot else 0

    def pending(self, model_id: str) -> list[ShardT]:
        """The shards of `model_id` waiting for an engine, next first."""
        return list(self._models[model_id].pending)
