"""Connecting to Ray: an existing cluster (`--address` / `RAY_ADDRESS`, or inside `ray job
submit`), else a local one started for this run."""

from __future__ import annotations

import os

from rayeval.errors import RayevalError
from rayeval.options import option_ref

# Quiet vLLM's per-request INFO lines in every engine actor; warnings and errors still show.
_WORKER_ENV = {"VLLM_LOGGING_LEVEL": os.environ.get("VLLM_LOGGING_LEVEL", "ERROR"), "TOKENIZERS_PARALLELISM": "false"}


def connect(address: str | None) -> None:
    """Initialise Ray once per process."""
    import ray

    if ray.is_initialized():
        return
    # "local", not None: with no address Ray attaches to any cluster a `ray start` (or a test's
    # simulated cluster) left registered on this machine, and another job's shutdown then ends
    # ours (seen: a judge service gone mid-sweep). The help promises a local Ray of the run's own.
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    try:
        ray.init(
            address=address,
            include_dashboard=False if address == "local" else None,
            runtime_env={"env_vars": _WORKER_ENV},
            logging_level="WARNING",
            log_to_driver=True,
        )
    except ConnectionError as exc:
        raise RayevalError(f"cannot reach the Ray cluster at {address} ({exc}); check {option_ref('run.address')} / RAY_ADDRESS") from exc


def local_gpu_count() -> int:
    """GPUs on this machine without importing torch or starting Ray (for `--dry-run`)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        return len([d for d in os.listdir("/dev") if d.startswith("nvidia") and d[6:].isdigit()])
    except OSError:
        return 0
