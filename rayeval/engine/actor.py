"""The engine actor: a Ray actor that owns one engine and runs shards for one model at a time.

The actor is deliberately thin: it switches models when a shard for another model arrives
(freeing the old engine first), runs the shard's requests as one batch, and reports timings.
Which shards it gets, and in what order, is the scheduler's business.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from rayeval.config import EngineConfig, SamplingConfig
from rayeval.engine.vllm_engine import Engine
from rayeval.models import ModelSpec
from rayeval.requests import Request, Result

EngineFactory = Callable[[EngineConfig, bool], Engine]


def vllm_engine_factory(config: EngineConfig, on_gpu: bool) -> Engine:
    from rayeval.engine.vllm_engine import VLLMEngine

    return VLLMEngine(config, on_gpu)


@dataclass
class ShardOutcome:
    """What one `run_shard` call produced.

    A model that fails to load comes back as `load_error` (a broken checkpoint is a fact about
    the model, not a fault of the engine: the scheduler skips the model and carries on).
    """

    results: list[Result] = field(default_factory=list)
    load_error: str | None = None
    load_seconds: float = 0.0
    run_seconds: float = 0.0
    node: str = ""


class EngineActor:
    """Ray actor class (wrapped with `ray.remote` by the pool)."""

    def __init__(self, config: EngineConfig, gpu_ids: list[str], engine_factory: EngineFactory | None = None) -> None:
        if gpu_ids:
            # Ray made only bundle 0's GPU visible; vLLM's tp ranks need every GPU of the group.
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids)
        self.gpu_ids = gpu_ids
        self.engine = (engine_factory or vllm_engine_factory)(config, bool(gpu_ids))
        self.model_path: str | None = None

    def describe(self) -> dict:
        """Where this actor runs and what it sees (used by tests and the dry-run layout)."""
        import ray

        return {
            "node_id": ray.get_runtime_context().get_node_id(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
            "model_path": self.model_path,
        }

    def run_shard(self, model: ModelSpec, requests: list[Request], sampling: SamplingConfig) -> ShardOutcome:
        """Load `model` if another one is loaded, then run `requests` as one batch."""
        import ray

        outcome = ShardOutcome(node=ray.get_runtime_context().get_node_id())
        if self.model_path != model.path:
            started = time.perf_counter()
            try:
                self.model_path = None
                self.engine.load(model, sampling)
            except Exception as exc:  # any load failure means this model cannot run here
                self._drop_engine()
                last = traceback.format_exception_only(type(exc), exc)[-1].strip()
                outcome.load_error = last[:500]
                return outcome
            self.model_path = model.path
            outcome.load_seconds = time.perf_counter() - started
        started = time.perf_counter()
        try:
            outcome.results = self.engine.run(requests, sampling)
        except Exception:
            # vLLM's engine core may be dead now; the retry of this shard must start a fresh one.
            self._drop_engine()
            raise
        outcome.run_seconds = time.perf_counter() - started
        return outcome

    def _drop_engine(self) -> None:
        self.model_path = None
        try:
            self.engine.unload()
        except Exception:  # a dead engine may fail to shut down cleanly; it is discarded anyway
            pass

    def shutdown(self) -> None:
        self._drop_engine()
