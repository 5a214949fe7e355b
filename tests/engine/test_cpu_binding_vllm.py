"""vLLM's CPU build in an engine actor runs the model on every core the actor may use.

vLLM's own default binds a tp-1 worker's OpenMP threads to all cores but one, which it keeps
for its scheduler process; on this 2-core machine that halves the cores doing the model's work
(bench/bench_cpu_settings.py: every core gives 1.54x the tokens/s). Real Ray, real vLLM, the
built-in SmolLM2; the check reads what the kernel says about the engine's processes.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_engine_worker_threads_cover_every_core_of_the_actor() -> None:
    import psutil
    import ray

    from rayeval.builtin_models import builtin_model_path
    from rayeval.config import EngineConfig, SamplingConfig
    from rayeval.engine.actor import EngineActor
    from rayeval.models import ModelSpec
    from rayeval.requests import ChatRequest

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")  # never attach to another session's cluster
    try:
        # 10 % of host memory for the KV cache: enough for one short request, leaves room for others.
        actor = ray.remote(EngineActor).options(num_cpus=1).remote(EngineConfig(gpu_memory_utilization=0.1), [])
        request = ChatRequest(key="k", messages=({"role": "user", "content": "Say hi."},), max_tokens=4)
        model = ModelSpec(id="smollm2", path=str(builtin_model_path("smollm2")))
        outcome = ray.get(actor.run_shard.remote(model, [request], SamplingConfig()))
        assert outcome.load_error is None and outcome.results[0].completion_tokens > 0

        engine_actor = psutil.Process(ray.get(actor.describe.remote())["pid"])
        workers = [p for p in engine_actor.children(recursive=True) if p.name().startswith("VLLM::Worker")]
        assert len(workers) == 1, [p.name() for p in engine_actor.children(recursive=True)]
        thread_cores = {core for thread in workers[0].threads() for core in psutil.Process(thread.id).cpu_affinity()}
        assert thread_cores == set(engine_actor.cpu_affinity())
        ray.get(actor.shutdown.remote())
    finally:
        ray.shutdown()
