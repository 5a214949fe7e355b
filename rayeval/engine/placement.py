"""Placement of engines on the cluster: how many, and which GPUs each one owns.

Each engine gets a placement group of `tp_size` one-GPU bundles, STRICT_PACK so that all of
them sit on one node (tensor parallelism across nodes is far too slow). The engine actor takes
bundle 0; the GPU ids of every bundle are read by short probe tasks pinned to the bundles, and
the actor makes exactly those devices visible to vLLM, whose own multiprocessing backend then
runs the tensor-parallel ranks (nesting Ray placement groups inside vLLM deadlocks on vLLM V1).
The placement group keeps the bundles reserved, so nothing else lands on those GPUs.

On a CPU-only cluster an engine is one actor with `tp_size` CPUs (vLLM's CPU build runs the
ranks as processes bound to those cores).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rayeval.errors import RayevalError

PLACEMENT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class EngineLayout:
    """How many engines of which tensor-parallel size, on GPUs or CPUs."""

    num_engines: int
    tp_size: int
    use_gpu: bool

    def describe(self) -> str:
        device = f"{self.tp_size} GPU(s)" if self.use_gpu else f"{self.tp_size} CPU rank(s)"
        return f"{self.num_engines} engine(s) × {device} each"


def choose_layout(tp_size: int, num_engines: int | None, cluster_gpus: float) -> EngineLayout:
    """Fill the cluster's GPUs with `tp_size`-GPU engines unless `num_engines` says otherwise."""
    gpus = int(cluster_gpus)
    if gpus == 0:
        return EngineLayout(num_engines=num_engines or 1, tp_size=tp_size, use_gpu=False)
    fit = gpus // tp_size
    if fit == 0:
        raise RayevalError(f"--tp-size {tp_size} needs {tp_size} GPUs but the cluster has {gpus}; lower --tp-size")
    if num_engines is not None and num_engines > fit:
        raise RayevalError(
            f"--num-engines {num_engines} × --tp-size {tp_size} needs {num_engines * tp_size} GPUs, the cluster has {gpus}; "
            f"use --num-engines {fit} or fewer"
        )
    return EngineLayout(num_engines=num_engines or fit, tp_size=tp_size, use_gpu=True)


def cluster_gpu_count() -> float:
    """GPUs the connected Ray cluster advertises (0 on CPU-only clusters)."""
    import ray

    return float(ray.cluster_resources().get("GPU", 0.0))


@dataclass
class Placement:
    """One engine's reservation: options for the actor, and the devices it owns."""

    actor_options: dict[str, Any]
    placement_group: Any
    node_id: str | None = None
    gpu_ids: list[str] = field(default_factory=list)


def _bundle_gpu_ids() -> tuple[str, list[str]]:
    import ray

    return ray.get_runtime_context().get_node_id(), [str(g) for g in ray.get_gpu_ids()]


def reserve_placement(tp_size: int, use_gpu: bool, timeout_s: float = PLACEMENT_TIMEOUT_S) -> Placement:
    """Reserve one engine's placement group and find out which node and GPUs it got."""
    import ray
    from ray.util.placement_group import placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    if use_gpu:
        bundles = [{"GPU": 1.0, "CPU": 1.0}] + [{"GPU": 1.0} for _ in range(tp_size - 1)]
    else:
        bundles = [{"CPU": float(tp_size)}]
    group = placement_group(bundles, strategy="STRICT_PACK")
    ready, _ = ray.wait([group.ready()], timeout=timeout_s)
    if not ready:
        ray.util.remove_placement_group(group)
        need = f"{tp_size} GPUs on one node" if use_gpu else f"{tp_size} CPUs"
        raise RayevalError(f"could not reserve {need} within {timeout_s:.0f}s; free resources or lower --tp-size/--num-engines")

    def pinned(index: int) -> PlacementGroupSchedulingStrategy:
        return PlacementGroupSchedulingStrategy(
            placement_group=group, placement_group_bundle_index=index, placement_group_capture_child_tasks=False
        )

    if not use_gpu:
        return Placement(actor_options={"num_cpus": float(tp_size), "scheduling_strategy": pinned(0)}, placement_group=group)
    probe = ray.remote(_bundle_gpu_ids)
    answers = ray.get([probe.options(num_cpus=0, num_gpus=1, scheduling_strategy=pinned(i)).remote() for i in range(tp_size)])
    nodes = {node for node, _ in answers}
    if len(nodes) != 1:  # STRICT_PACK guarantees this; a violation would silently cross nodes
        raise RuntimeError(f"placement group spans nodes {nodes}")
    gpu_ids = [gpu for _, ids in answers for gpu in ids]
    return Placement(
        actor_options={"num_cpus": 1, "num_gpus": 1, "scheduling_strategy": pinned(0)},
        placement_group=group,
        node_id=nodes.pop(),
        gpu_ids=gpu_ids,
    )


def release_placement(placement: Placement) -> None:
    """Give the bundles back to the cluster."""
    import ray

    try:
        ray.util.remove_placement_group(placement.placement_group)
    except Exception:  # already gone with its node; nothing left to free
        pass
