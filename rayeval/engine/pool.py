"""The engine pool: creates engine actors on their placements, replaces lost ones, tears down.

The scheduler asks the pool for actors and tells it when one died; the pool alone talks to
placement groups.

Placement groups are requested without blocking and an engine joins the pool when its group is
ready (`admit_ready`, called on every pass of the scheduler's loop). So on an autoscaling cluster
the engines that fit today start work at once while the others wait for their nodes, and a group
that never comes blocks nothing: the run finishes on the engines it has. A lost engine's
replacement is requested the same way, so a node loss never stalls the other engines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rayeval.config import EngineConfig
from rayeval.engine.actor import EngineActor, EngineFactory
from rayeval.engine.placement import (
    EngineLayout,
    Placement,
    placement_error,
    placement_of,
    release_placement,
    remove_group,
    request_placement,
)
from rayeval.models import ModelSpec

FITS_NOW_GRACE_S = 5.0
"""On an autoscaling cluster, once the first group is ready the others that fit on today's nodes
follow within about a second (0.1–0.6 s on the simulated cluster); waiting this long lets them
start together, while a group that needs a new node stays pending and joins later."""


@dataclass
class EngineHandle:
    """One live engine actor with its reservation.

    An API model's engine (`lane` set: see `lane_of`) has no placement: it only waits on HTTP."""

    name: str
    actor: Any
    placement: Placement | None
    lane: str | None = None


def lane_of(model: ModelSpec) -> str | None:
    """The dispatch lane of `model` (`rayeval.dispatch`, rule 5): an API model has its own, served
    by the API engine the pool starts for it; local models share lane None, the vLLM engines'."""
    return model.path if model.api is not None else None


@dataclass
class PendingGroup:
    """A requested placement group, the ref that resolves when it is ready, and when to give up."""

    group: Any
    ready_ref: Any
    deadline: float


class EnginePool:
    """Runs up to `layout.num_engines` actors; each may be replaced a bounded number of times."""

    def __init__(
        self,
        layout: EngineLayout,
        config: EngineConfig,
        engine_factory: EngineFactory | None = None,
        max_replacements: int = 2,
        replacement_timeout_s: float = 60.0,
    ) -> None:
        self.layout = layout
        self.replacement_timeout_s = replacement_timeout_s
        self.config = config
        self.engine_factory = engine_factory
        self.replacements_left = max_replacements * layout.num_engines
        self.handles: list[EngineHandle] = []
        self._api_models: dict[str, ModelSpec] = {}
        """Per lane, the API model whose engine serves it (to restart a lost one)."""
        self._api_factory: EngineFactory | None = None
        self.pending: list[PendingGroup] = []
        self._created = 0

    def start(self) -> list[EngineHandle]:
        """Request every engine's group; wait until one is ready (on an autoscaling cluster) or
        all are (otherwise), at most the layout's placement timeout. Engines whose groups are not
        ready by then keep waiting in `pending`. Raises when not a single engine could start."""
        import ray

        self.pending = [self._request(self.layout.placement_timeout_s) for _ in range(self.layout.num_engines)]
        refs = [p.ready_ref for p in self.pending]
        if self.layout.autoscaling:
            ray.wait(refs, num_returns=1, timeout=self.layout.placement_timeout_s)
            ray.wait(refs, num_returns=len(refs), timeout=FITS_NOW_GRACE_S)
        else:
            ray.wait(refs, num_returns=len(refs), timeout=self.layout.placement_timeout_s)
        self.admit_ready()
        if not self.handles:
            self.shutdown()
            raise placement_error(self.layout.tp_size, self.layout.use_gpu, self.layout.placement_timeout_s)
        return list(self.handles)

    def admit_ready(self) -> list[EngineHandle]:
        """Start an engine on every pending group that became ready; drop requests past their
        deadline. Never blocks. Returns the engines that joined."""
        import ray

        if not self.pending:
            return []
        ready, _ = ray.wait([p.ready_ref for p in self.pending], num_returns=len(self.pending), timeout=0)
        ready_refs = set(ready)
        joined: list[EngineHandle] = []
        now = time.monotonic()
        for request in list(self.pending):
            if request.ready_ref in ready_refs:
                self.pending.remove(request)
                try:
                    joined.append(self._start_engine(request.group))
                except Exception:  # noqa: BLE001 - its node went away between ready and start
                    remove_group(request.group)
            elif now > request.deadline:
                self.pending.remove(request)
                remove_group(request.group)
        self.handles.extend(joined)
        return joined

    def wait_ready(self) -> None:
        """Block until every actor has started (so timings measure work, not start-up)."""
        import ray

        ray.get([h.actor.describe.remote() for h in self.handles])

    def _request(self, timeout_s: float) -> PendingGroup:
        group = request_placement(self.layout.tp_size, self.layout.use_gpu)
        return PendingGroup(group=group, ready_ref=group.ready(), deadline=time.monotonic() + timeout_s)

    def _start_engine(self, group: Any) -> EngineHandle:
        import ray

        placement = placement_of(group, self.layout.tp_size, self.layout.use_gpu)
        self._created += 1
        actor_cls = ray.remote(EngineActor)
        actor = actor_cls.options(max_restarts=0, max_concurrency=1, **placement.actor_options).remote(
            self.config, placement.gpu_ids, self.engine_factory
        )
        return EngineHandle(name=f"engine-{self._created}", actor=actor, placement=placement)

    def replace(self, dead: EngineHandle) -> bool:
        """Discard a dead actor and, if the budget allows, request a replacement, which joins
        through `admit_ready` once the cluster has room (within `replacement_timeout_s`)."""
        self._discard(dead)
        if dead.lane is not None:  # an API engine needs no room: a new actor starts at once
            self.handles.append(self._start_api_engine(self._api_models[dead.lane]))
            return True
        if self.replacements_left <= 0:
            return False
        self.replacements_left -= 1
        self.pending.append(self._request(self.replacement_timeout_s))
        return True

    def start_api_engines(self, models: list[ModelSpec], factory: EngineFactory) -> list[EngineHandle]:
        """One engine actor per API model (`factory` makes its `ApiEngine`), outside any placement
        group and with no CPU reserved: it spends its time waiting on HTTP, and reserving a core
        would take one from the engines and scoring tasks of a small cluster (the judge's workers
        do the same). Each is replaced at once if it dies."""
        self._api_factory = factory
        started = []
        for model in models:
            lane = lane_of(model)
            if lane is None or lane in self._api_models:
                continue
            self._api_models[lane] = model
            started.append(self._start_api_engine(model))
        self.handles.extend(started)
        return started

    def _start_api_engine(self, model: ModelSpec) -> EngineHandle:
        import ray

        self._created += 1
        actor = ray.remote(EngineActor).options(max_restarts=0, max_concurrency=1, num_cpus=0).remote(self.config, [], self._api_factory)
        return EngineHandle(name=f"api-{self._created}", actor=actor, placement=None, lane=lane_of(model))

    def _discard(self, handle: EngineHandle) -> None:
        import ray

        if handle in self.handles:
            self.handles.remove(handle)
        try:
            ray.kill(handle.actor, no_restart=True)
        except Exception:  # already dead
            pass
        if handle.placement is not None:
            release_placement(handle.placement)

    def shutdown(self) -> None:
        import ray

        for request in self.pending:
            remove_group(request.group)
        self.pending = []
        for handle in list(self.handles):
            try:
                ray.get(handle.actor.shutdown.remote(), timeout=60)
            except Exception:  # dead or stuck: killing it below frees it anyway
                pass
            self._discard(handle)
