"""The engine pool: creates engine actors on their placements, replaces lost ones, tears down.

The scheduler asks the pool for actors and tells it when one died; the pool alone talks to
placement groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rayeval.config import EngineConfig
from rayeval.engine.actor import EngineActor, EngineFactory
from rayeval.engine.placement import EngineLayout, Placement, release_placement, reserve_placement


@dataclass
class EngineHandle:
    """One live engine actor with its reservation."""

    name: str
    actor: Any
    placement: Placement


class EnginePool:
    """Starts `layout.num_engines` actors; each may be replaced a bounded number of times."""

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
        self._created = 0

    def start(self) -> list[EngineHandle]:
        self.handles = [self._create() for _ in range(self.layout.num_engines)]
        return list(self.handles)

    def wait_ready(self) -> None:
        """Block until every actor has started (so timings measure work, not start-up)."""
        import ray

        ray.get([h.actor.describe.remote() for h in self.handles])

    def _create(self, timeout_s: float | None = None) -> EngineHandle:
        import ray

        placement = reserve_placement(self.layout.tp_size, self.layout.use_gpu, timeout_s or self.layout.placement_timeout_s)
        self._created += 1
        name = f"engine-{self._created}"
        actor_cls = ray.remote(EngineActor)
        actor = actor_cls.options(max_restarts=0, max_concurrency=1, **placement.actor_options).remote(
            self.config, placement.gpu_ids, self.engine_factory
        )
        return EngineHandle(name=name, actor=actor, placement=placement)

    def replace(self, dead: EngineHandle) -> EngineHandle | None:
        """Swap a dead actor for a new one, if the budget and the cluster allow."""
        self._discard(dead)
        if self.replacements_left <= 0:
            return None
        self.replacements_left -= 1
        try:
            handle = self._create(self.replacement_timeout_s)
        except Exception:  # no room left (e.g. its node is gone): carry on with fewer engines
            return None
        self.handles.append(handle)
        return handle

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

        for handle in list(self.handles):
            try:
                ray.get(handle.actor.shutdown.remote(), timeout=60)
            except Exception:  # dead or stuck: killing it below frees it anyway
                pass
            self._discard(handle)
