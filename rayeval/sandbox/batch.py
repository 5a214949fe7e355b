"""Run many sandboxed programs in parallel: on Ray CPU workers when Ray is up, else locally.

Each run is a separate process, so local parallelism needs only threads (they just wait on their
child). Under Ray, each job is a one-CPU task, so a cluster spreads the programs over its nodes
and Ray's CPU accounting keeps them from oversubscribing a machine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from rayeval.sandbox.runner import Job, SandboxResult, run_sandboxed


def run_batch(jobs: Sequence[Job], parallelism: int | None = None) -> list[SandboxResult]:
    """Run `jobs` and return their results in the same order.

    Uses Ray tasks (one CPU each) if Ray is already initialised in this process, otherwise a local
    pool of `parallelism` threads (default: the number of CPUs).
    """
    if not jobs:
        return []
    if _ray_is_up():
        return _run_on_ray(jobs)
    workers = parallelism or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        return list(pool.map(run_sandboxed, jobs))


def _ray_is_up() -> bool:
    ray = sys.modules.get("ray")  # never import Ray just to find out it is not running
    return ray is not None and ray.is_initialized()


def _run_on_ray(jobs: Sequence[Job]) -> list[SandboxResult]:
    import ray

    remote = ray.remote(num_cpus=1, max_retries=0)(run_sandboxed)
    return ray.get([remote.remote(job) for job in jobs])
