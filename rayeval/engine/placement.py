"""Placement of engines on the cluster: how many, and which GPUs each one owns.

Each engine gets a placement group of `tp_size` one-GPU bundles, STRICT_PACK so that all of
them sit on one node (tensor parallelism across nodes is far too slow). The engine actor takes
bundle 0; the GPU ids of every bundle are read by short probe tasks pinned to the bundles, and
the actor makes exactly those devices visible to vLLM, whose own multiprocessing backend then
runs the tensor-parallel ranks (nesting Ray placement groups inside vLLM deadlocks on vLLM V1).
The placement group keeps the bundles reserved, so nothing else lands on those GPUs.

On a CPU-only cluster (or with `engine.device` cpu) an engine is one actor with `tp_size` CPUs
(vLLM's CPU build runs the ranks as processes bound to those cores).

How many engines: `choose_layout` counts what fits on each node (`engines_that_fit`, pure), not
the cluster's GPU total: 2 nodes × 6 GPUs hold two 4-GPU engines, not three. On an autoscaling
cluster (`cluster_autoscales`: `RAYEVAL_AUTOSCALING=1`) the engines asked for are planned even
when today's nodes cannot hold them; their placement groups wait for the new nodes.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rayeval.config import EngineConfig
from rayeval.errors import RayevalError
from rayeval.options import option_ref

TP, ENGINES, DEVICE = option_ref("engine.tp_size"), option_ref("run.num_engines"), option_ref("engine.device")

PLACEMENT_TIMEOUT_S = 120.0
AUTOSCALING_PLACEMENT_TIMEOUT_S = 1800.0
"""On an autoscaling cluster a placement group waits for a new node: minutes, not seconds."""
AUTOSCALING_ENV = "RAYEVAL_AUTOSCALING"
"""Set to 1 (true, yes) on a cluster whose workers are added on demand (KubeRay with the
autoscaler, Ray cluster launcher with min_workers below max_workers)."""


@dataclass(frozen=True)
class EngineLayout:
    """How many engines of which tensor-parallel size, on GPUs or CPUs.

    `autoscaling`: the engines were planned for nodes that may not exist yet, so reserving their
    placement groups waits longer (`placement_timeout_s`)."""

    num_engines: int
    tp_size: int
    use_gpu: bool
    autoscaling: bool = False
    judge_room: bool = False
    """GPUs were left free for the in-cluster judges (`set_aside`), so judged scoring can start
    while the engines generate; otherwise it waits until they are done."""

    @property
    def placement_timeout_s(self) -> float:
        return AUTOSCALING_PLACEMENT_TIMEOUT_S if self.autoscaling else PLACEMENT_TIMEOUT_S

    def describe(self) -> str:
        device = f"{self.tp_size} GPU(s)" if self.use_gpu else f"{self.tp_size} CPU rank(s)"
        notes = [" (autoscaling: nodes may still be starting)"] if self.autoscaling else []
        notes += [", GPUs left free for the in-cluster judge"] if self.judge_room else []
        return f"{self.num_engines} engine(s) × {device} each" + "".join(notes)


def engines_that_fit(node_gpus: Sequence[float], tp_size: int) -> int:
    """How many `tp_size`-GPU engines fit on nodes with these GPU counts. Every engine sits on one
    node (STRICT_PACK), so a node's leftover GPUs are no use to an engine on another node."""
    return sum(int(gpus) // tp_size for gpus in node_gpus)


def set_aside(node_gpus: Sequence[float], groups: Sequence[int]) -> list[float] | None:
    """The GPUs left on each node once every group (a judge replica's `tp` GPUs, on one node)
    is placed, largest group first, on the node with the most free GPUs; None when a group fits
    on no node."""
    free = [float(int(gpus)) for gpus in node_gpus]
    for size in sorted(groups, reverse=True):
        best = max(range(len(free)), key=lambda i: free[i], default=None)
        if best is None or free[best] < size:
            return None
        free[best] -= size
    return free


def choose_layout(
    engine: EngineConfig,
    num_engines: int | None,
    node_gpus: Sequence[float],
    *,
    autoscaling: bool = False,
    judge_groups: Sequence[int] = (),
) -> EngineLayout:
    """Plan the engines for nodes with `node_gpus` GPUs each (one entry per alive node).

    Without `num_engines`, as many `engine.tp_size`-GPU engines as fit; an explicit `num_engines`
    that does not fit now is an error, except on an `autoscaling` cluster, where the placement
    groups are requested anyway and fulfilled as nodes arrive. `engine.device` picks GPUs or CPUs
    (see its description). `judge_groups`: the GPU groups of in-cluster judge replicas a sweep
    will start; they are left free when the engines still get at least one engine (or the
    `num_engines` asked for) on the rest (`judge_room`). Pure: callers read the cluster
    (`cluster_node_gpus`, `cluster_autoscales`)."""
    tp = engine.tp_size
    if engine.device == "cpu":
        return EngineLayout(num_engines=num_engines or 1, tp_size=tp, use_gpu=False)
    total = sum(int(gpus) for gpus in node_gpus)
    if total == 0 and engine.device == "auto":
        if autoscaling:
            raise RayevalError(
                f"the cluster has no GPUs yet but autoscales: GPU workers may still be starting; "
                f"pass {DEVICE} cpu to run on CPUs, or {DEVICE} gpu to wait for GPU workers"
            )
        return EngineLayout(num_engines=num_engines or 1, tp_size=tp, use_gpu=False)
    if total == 0 and not autoscaling:
        raise RayevalError(f"{DEVICE} gpu but the cluster has no GPUs; use {DEVICE} cpu or auto, or connect to a GPU cluster")
    rest = set_aside(node_gpus, judge_groups) if judge_groups else None
    if rest is not None and engines_that_fit(rest, tp) >= max(num_engines or 1, 1):
        layout = choose_layout(engine, num_engines, rest, autoscaling=autoscaling)
        return dataclasses.replace(layout, judge_room=True)
    fit = engines_that_fit(node_gpus, tp)
    if autoscaling:  # missing GPUs are the autoscaler's to add
        return EngineLayout(num_engines=num_engines or max(fit, 1), tp_size=tp, use_gpu=True, autoscaling=True)
    nodes = ", ".join(str(int(gpus)) for gpus in node_gpus if int(gpus) > 0)  # CPU-only nodes (a head) are noise here
    if fit == 0:
        raise RayevalError(
            f"{TP} {tp} needs {tp} GPUs on one node but the largest node has {max(int(g) for g in node_gpus)} (GPUs per node: {nodes}); lower {TP}"
        )
    if num_engines is not None and num_engines > fit:
        raise RayevalError(
            f"{ENGINES} {num_engines} × {TP} {tp} does not fit: only {fit} engine(s) of {tp} GPUs fit on one node each "
            f"(GPUs per node: {nodes}); use {ENGINES} {fit} or fewer, or lower {TP}"
        )
    return EngineLayout(num_engines=num_engines or fit, tp_size=tp, use_gpu=True)


def cluster_node_gpus() -> list[float]:
    """GPUs of each alive node of the connected Ray cluster (0 for CPU-only nodes)."""
    import ray

    return [float(node.get("Resources", {}).get("GPU", 0.0)) for node in ray.nodes() if node.get("Alive")]


def cluster_gpu_count() -> float:
    """GPUs the connected Ray cluster advertises (0 on CPU-only clusters)."""
    import ray

    return float(ray.cluster_resources().get("GPU", 0.0))


def cluster_autoscales() -> bool:
    """Whether the cluster adds workers on demand. Ray exposes no reliable way to tell from a
    driver (KubeRay's autoscaler is a sidecar of the head pod), so the user says so with
    `RAYEVAL_AUTOSCALING=1` in the driver's environment."""
    return os.environ.get(AUTOSCALING_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


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


def request_placement(tp_size: int, use_gpu: bool) -> Any:
    """Ask the cluster for one engine's placement group; returns at once (the group becomes ready
    when resources free up or, on an autoscaling cluster, when a new node joins)."""
    from ray.util.placement_group import placement_group

    if use_gpu:
        bundles = [{"GPU": 1.0, "CPU": 1.0}] + [{"GPU": 1.0} for _ in range(tp_size - 1)]
    else:
        bundles = [{"CPU": float(tp_size)}]
    return placement_group(bundles, strategy="STRICT_PACK")


def placement_of(group: Any, tp_size: int, use_gpu: bool) -> Placement:
    """The `Placement` of a ready group: actor options, and on GPUs the node and GPU ids it got."""
    import ray
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

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


def placement_error(tp_size: int, use_gpu: bool, timeout_s: float) -> RayevalError:
    """Why no placement could be had, and what to change."""
    need = f"{tp_size} GPUs on one node" if use_gpu else f"{tp_size} CPUs"
    return RayevalError(f"could not reserve {need} within {timeout_s:.0f}s; free resources or lower {TP}/{ENGINES}")


def reserve_placement(tp_size: int, use_gpu: bool, timeout_s: float = PLACEMENT_TIMEOUT_S) -> Placement:
    """Reserve one placement group, waiting up to `timeout_s` (for a single reservation such as the
    in-cluster judge's; the engine pool requests its groups without blocking)."""
    import ray

    group = request_placement(tp_size, use_gpu)
    ready, _ = ray.wait([group.ready()], timeout=timeout_s)
    if not ready:
        ray.util.remove_placement_group(group)
        raise placement_error(tp_size, use_gpu, timeout_s)
    return placement_of(group, tp_size, use_gpu)


def remove_group(group: Any) -> None:
    """Give a placement group's bundles back to the cluster (or withdraw a pending request)."""
    import ray

    try:
        ray.util.remove_placement_group(group)
    except Exception:  # already gone with its node; nothing left to free
        pass


def release_placement(placement: Placement) -> None:
    """Give an engine's bundles back to the cluster."""
    remove_group(placement.placement_group)
