"""A light stand-in for the vLLM engine, for scheduler tests on a simulated cluster.

Test double, deliberately: the simulated cluster's GPUs are logical (there are none on these
machines), so a real vLLM cannot run on them. The stand-in keeps the engine contract: a load
step, batched generation whose time grows with the batch, one result per request.
"""

from __future__ import annotations

import os
import time

from rayeval.config import EngineConfig, SamplingConfig
from rayeval.models import ModelSpec
from rayeval.requests import GenerationResult, Request, Result


class SleepyEngine:
    """Answers each request with `<key>|<model path>|<pid>` after a batch-size-proportional sleep."""

    def __init__(self, config: EngineConfig, on_gpu: bool, seconds_per_request: float = 0.01, load_seconds: float = 0.05) -> None:
        self.config = config
        self.seconds_per_request = seconds_per_request
        self.load_seconds = load_seconds
        self.model: ModelSpec | None = None

    def load(self, model: ModelSpec, sampling: SamplingConfig) -> None:
        if "broken" in model.path:
            raise OSError(f"{model.path}/config.json: not a valid model config")
        time.sleep(self.load_seconds)
        self.model = model

    def run(self, requests: list[Request], sampling: SamplingConfig) -> list[Result]:
        time.sleep(self.seconds_per_request * len(requests))
        return [
            GenerationResult(
                key=r.key, text=f"{r.key}|{self.model.path}|{os.getpid()}", prompt_tokens=3, completion_tokens=5, finish_reason="stop"
            )
            for r in requests
        ]

    def unload(self) -> None:
        self.model = None


def sleepy_factory(seconds_per_request: float = 0.01, load_seconds: float = 0.05):
    """An engine factory with the given timings (picklable by value for Ray workers)."""

    def factory(config: EngineConfig, on_gpu: bool) -> SleepyEngine:
        return SleepyEngine(config, on_gpu, seconds_per_request, load_seconds)

    return factory
