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

FITS_NOW_GRACE_S = 5.0
"""On an autoscaling cluster, once the first group is ready the others that fit on today's nodes
follow within about a second (0.1–0.6 s on the simulated cluster); waiting this long lets them
start together, while a group that needs a new node stays pending and joins later."""


@dataclass
class EngineHandle:
    """One live engine actor with its reservation."""

    name: str
    actor: Any
    placement: Placement


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
        if self.replacements_left <= 0:
            return False
        self.replacements_left -= 1
        self.pending.append(self._request(self.replacement_timeout_s))
        return True

    def _discard(self, handle: EngineHandle) -> None:
        import ray

        if handle in self.handles:
            self.handles.remove(handle)
        try:
            ray.kill(handle.actor, no_restart=True)
        except Exception:  # already dead
            pass
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
