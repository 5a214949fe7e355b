"""Generated tokens/s of `rayeval generate` versus a bare vLLM `LLM.chat` on the same prompts.

Same model (the built-in SmolLM2-135M-Instruct), same prompts (the first N IFEval prompts),
same sampling (greedy, fixed max tokens), same engine settings. Engine load time is reported
separately and excluded from both rates. rayeval's rate is measured around the scheduler (so it
includes Ray dispatch, shard journaling and writing the outputs); the bare rate around the one
`LLM.chat` call. Target: ratio >= 0.90.

    python bench/bench_generate_throughput.py [--quick] [--json PATH] [--gpu] [--prompts 64] [--max-tokens 64]

--quick changes nothing: 64 prompts of 64 tokens is already the short measurement. --gpu runs both
on a GPU with rayeval's GPU defaults instead of vLLM's CPU build.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from _table import Row, add_table_arguments, emit

TARGET = 0.90


def bare_vllm(model_path: str, prompts: list[str], max_tokens: int, on_gpu: bool, queue) -> None:
    """Runs in its own process, so the two engines never share memory or threads."""
    from vllm import LLM, SamplingParams

    from rayeval.config import EngineConfig
    from rayeval.engine.vllm_engine import cpu_thread_binding

    if not on_gpu:  # the CPU threads rayeval's engine gets (every core), so only the overhead differs
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = cpu_thread_binding(1)
    started = time.perf_counter()
    engine = EngineConfig()
    llm = LLM(model=model_path, gpu_memory_utilization=engine.memory_fraction(on_gpu), enforce_eager=engine.eager(on_gpu), seed=0)
    load = time.perf_counter() - started
    params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=0)
    started = time.perf_counter()
    outputs = llm.chat([[{"role": "user", "content": p}] for p in prompts], sampling_params=[params] * len(prompts), use_tqdm=False)
    seconds = time.perf_counter() - started
    queue.put({"load": load, "seconds": seconds, "tokens": sum(len(o.outputs[0].token_ids) for o in outputs)})
    # Without an explicit shutdown the engine-core child outlives `llm` and this process's exit
    # waits for it forever.
    llm.llm_engine.engine_core.shutdown()


def rayeval_generate(model_path: str, limit: int, max_tokens: int, on_gpu: bool) -> dict:
    import ray

    from rayeval import benchmarks
    from rayeval.config import RunOptions, SamplingConfig
    from rayeval.data import DataSource
    from rayeval.engine.placement import EngineLayout
    from rayeval.engine.pool import EnginePool
    from rayeval.generation import GenerateRequest, make_plan
    from rayeval.models import ModelSpec
    from rayeval.ray_session import connect
    from rayeval.scheduler import Scheduler
    from rayeval.settings import Settings
    from rayeval.store import ResultStore

    connect(None)
    with tempfile.TemporaryDirectory() as results:
        settings = Settings(run=RunOptions(limit=limit), sampling=SamplingConfig(max_tokens=max_tokens))
        request = GenerateRequest(models=[ModelSpec(id="bench", path=model_path)], benchmarks=[benchmarks.get("ifeval")], settings=settings)
        store, data = ResultStore(Path(results)), DataSource()
        plan = make_plan(request, data, store, 1)
        pool = EnginePool(EngineLayout(num_engines=1, tp_size=1, use_gpu=on_gpu), request.engine)
        pool.start()
        pool.wait_ready()
        try:
            report = Scheduler(pool, store, request.sampling).run(plan)
        finally:
            pool.shutdown()
    ray.shutdown()
    return {"load": report.load_seconds, "seconds": report.wall_seconds - report.load_seconds, "tokens": report.completion_tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_table_arguments(parser)
    parser.add_argument("--gpu", action="store_true", help="run both on a GPU (default: vLLM's CPU build)")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()

    from rayeval.benchmarks.ifeval.files import load_ifeval_inputs
    from rayeval.builtin_models import builtin_model_path
    from rayeval.data import DataSource

    model_path = str(builtin_model_path("smollm2"))
    prompts = [row["prompt"] for row in load_ifeval_inputs(DataSource())[: args.prompts]]

    queue = multiprocessing.get_context("spawn").Queue()
    worker = multiprocessing.get_context("spawn").Process(target=bare_vllm, args=(model_path, prompts, args.max_tokens, args.gpu, queue))
    worker.start()
    bare = queue.get()
    worker.join(timeout=120)
    if worker.is_alive():
        worker.kill()
    ours = rayeval_generate(model_path, args.prompts, args.max_tokens, args.gpu)

    bare_rate = bare["tokens"] / bare["seconds"]
    our_rate = ours["tokens"] / ours["seconds"]
    print(json.dumps({"prompts": args.prompts, "max_tokens": args.max_tokens, "bare_vllm": bare, "rayeval": ours}, indent=2))
    print(f"engine load: bare vLLM {bare['load']:.1f}s, rayeval actor {ours['load']:.1f}s (excluded from the rates)")
    print(f"generated tokens/s: bare vLLM {bare_rate:.1f}, rayeval generate {our_rate:.1f}")
    ratio = our_rate / bare_rate
    emit(
        [
            Row.at_least(
                f"engine overhead: rayeval generate / bare vLLM LLM.chat tok/s ({args.prompts} prompts)",
                f"{our_rate:.1f} vs {bare_rate:.1f} tok/s",
                ratio,
                TARGET,
            )
        ],
        args,
    )


if __name__ == "__main__":
    main()
