"""Start-up and fixed costs: `rayeval --help` against its 0.5 s target and, with --engine, the way
from a `rayeval generate` command to its first engine request on a local Ray, step by step.

    .venv/bin/python bench/bench_startup.py [--quick] [--json PATH] [--runs 5]
    flock /tmp/rayeval-heavy.lock .venv/bin/python bench/bench_startup.py --engine [--limit 2]

1. `rayeval --help` and `rayeval sweep --help` (the command with the most options), each the
   median wall time of --runs fresh processes of the console script (after one unmeasured run
   that warms the page cache). Target < 0.5 s; the CPU time is shown beside it, since on a shared
   machine wall time also counts other processes' turns.
2. --engine (starts Ray and two vLLM engines one after the other: a heavy run, take the lock):
   the steps `rayeval generate builtin:smollm2 -b ifeval --limit 2` goes through, each timed
   around the same call the command makes, in one process started for it:
   - command start-up: interpreter, imports, resolving the model, settings, request;
   - Ray start: `ray_session.connect` starting a local Ray;
   - placement: the layout and plan, `EnginePool.start` (placement group ready, actor requested);
   - actor start: until the engine actor answers (its process and `EngineActor.__init__`);
   - engine load and first request: `Scheduler.run` until the first shard's engine has loaded
     (the actor's `load_seconds`) and its requests start.
   Then the actor's engine load is compared with a bare `vllm.LLM(...)` with the same settings in
   a fresh process, timed with and without `import vllm`: the actor times its load from before
   that import (`VLLMEngine.load` imports vLLM on first use), and `import vllm` alone, measured in
   a Ray worker of the same cluster, is what separates the two. Target: actor load <= 1.05 x
   (bare import + bare load).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _table import Row, add_table_arguments, emit

HELP_TARGET_S = 0.5
LOAD_RATIO_TARGET = 1.05
"""The actor's engine load may exceed a bare load of the same engine by 5%: Ray's worker adds
no work to a load, so anything more is a difference to find."""
MODEL = "builtin:smollm2"


def rayeval_command() -> list[str]:
    """The console script next to this interpreter (what users run), else `python -m rayeval`."""
    script = Path(sys.executable).with_name("rayeval")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rayeval"]


def timed_run(command: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of `command` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def help_rows(runs: int) -> list[Row]:
    rows = []
    for args in (["--help"], ["sweep", "--help"]):
        command = rayeval_command() + args
        timed_run(command)  # warms the page cache and the bytecode caches
        times = [timed_run(command) for _ in range(runs)]
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        rows.append(
            Row.at_most(
                f"start-up: rayeval {' '.join(args)} (median of {runs} fresh processes)",
                f"{wall:.3f} s wall, {cpu:.3f} s CPU",
                wall,
                HELP_TARGET_S,
                unit=" s",
            )
        )
    return rows


def command_steps(limit: int, launched: float, queue) -> None:
    """Runs in a process of its own, started at `launched` (epoch seconds): what `rayeval
    generate MODEL -b ifeval --limit N` does up to its first engine request, one timed step at a
    time, then the generation to its end. Puts on `queue` the start-up steps' seconds, the rest
    of the run's, and `import vllm` timed in a Ray worker of the same cluster."""
    steps: dict[str, float] = {}
    mark = launched

    def step(name: str) -> None:
        nonlocal mark
        now = time.time()
        steps[name] = now - mark
        mark = now

    def import_vllm_seconds() -> float:  # nested: Ray ships it by value to its worker
        started = time.perf_counter()
        import vllm  # noqa: F401

        return time.perf_counter() - started

    from rayeval.benchmarks import parse_list
    from rayeval.data import DataSource
    from rayeval.engine.placement import choose_layout, cluster_autoscales, cluster_node_gpus
    from rayeval.engine.pool import EnginePool
    from rayeval.generation import GenerateRequest, plan_generation
    from rayeval.models import resolve_models_with_skips
    from rayeval.ray_session import connect
    from rayeval.scheduler import Scheduler
    from rayeval.settings import Settings
    from rayeval.store import ResultStore

    settings = Settings.build({"run": {"benchmarks": "ifeval", "limit": limit}})
    models = resolve_models_with_skips([MODEL]).models
    request = GenerateRequest(models=models, benchmarks=parse_list(settings.run.benchmarks), settings=settings)
    step("command start-up (interpreter, imports, model, settings)")
    connect(None)  # imports ray and starts a local cluster, as the command does
    step("Ray start (import ray, local cluster)")
    import ray

    with tempfile.TemporaryDirectory() as results:
        store, data = ResultStore(Path(results)), DataSource()
        layout = choose_layout(request.engine, None, cluster_node_gpus(), autoscaling=cluster_autoscales())
        plan = plan_generation(request, data, store, layout)
        pool = EnginePool(layout, request.engine)
        pool.start()
        step("placement (layout, plan, placement group, actor requested)")
        try:
            pool.wait_ready()
            step("actor start (worker process, EngineActor)")
            scheduler_started = time.time()
            report = Scheduler(pool, store, request.sampling).run(plan)
        finally:
            pool.shutdown()
        steps["engine load in the actor (import vllm + vllm.LLM)"] = report.load_seconds
        rest = {
            "generating the prompts": report.run_seconds,
            "scheduler around the engine (dispatch, journal, outputs)": time.time()
            - scheduler_started
            - report.load_seconds
            - report.run_seconds,
        }
        worker_import = ray.get(ray.remote(num_cpus=0)(import_vllm_seconds).remote())
    ray.shutdown()
    queue.put({"steps": steps, "rest": rest, "worker_import": worker_import})


def bare_load(queue) -> None:
    """Runs in a fresh process: `import vllm`, then `vllm.LLM(...)` with the settings rayeval's
    engine gives it on a CPU (`VLLMEngine.load`), each timed."""
    started = time.perf_counter()
    from vllm import LLM

    imported = time.perf_counter() - started

    from rayeval.builtin_models import builtin_model_path
    from rayeval.config import EngineConfig, SamplingConfig

    engine, sampling = EngineConfig(), SamplingConfig()
    started = time.perf_counter()
    llm = LLM(
        model=str(builtin_model_path("smollm2")),
        gpu_memory_utilization=engine.memory_fraction(False),
        max_model_len=engine.max_model_len,
        enforce_eager=engine.eager(False),
        dtype=engine.dtype,
        seed=sampling.seed,
    )
    queue.put({"import": imported, "load": time.perf_counter() - started})
    # Without an explicit shutdown the engine-core child outlives `llm` and this process waits for it.
    llm.llm_engine.engine_core.shutdown()


def in_fresh_process(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=target, args=(*args, queue))
    worker.start()
    result = queue.get(timeout=900)
    worker.join(timeout=120)
    if worker.is_alive():
        worker.kill()
    return result


def engine_rows(limit: int) -> list[Row]:
    from rayeval.builtin_models import builtin_model_path

    builtin_model_path("smollm2")  # built once into the user cache: not a start-up cost
    run = in_fresh_process(command_steps, limit, time.time())
    bare = in_fresh_process(bare_load)
    steps, worker_import = run["steps"], run["worker_import"]
    to_first_request = sum(steps.values())
    rows = [
        Row.reported(
            f"start-up: rayeval generate {MODEL} --limit {limit}, command to first engine request (local Ray)", f"{to_first_request:.1f} s"
        )
    ]
    rows += [Row.reported(f"  {name}", f"{seconds:.2f} s") for name, seconds in steps.items()]
    rows += [Row.reported(f"  (after: {name})", f"{seconds:.2f} s") for name, seconds in run["rest"].items()]
    actor_load = steps["engine load in the actor (import vllm + vllm.LLM)"]
    bare_total = bare["import"] + bare["load"]
    rows += [
        Row(
            name="engine load: in the actor / bare import vllm + vllm.LLM in a fresh process",
            measured=f"{actor_load:.1f} vs {bare['import']:.1f} + {bare['load']:.1f} s",
            target=f"<= {LOAD_RATIO_TARGET}",
            ratio=actor_load / bare_total,
            passed=actor_load / bare_total <= LOAD_RATIO_TARGET,
        ),
        Row.reported(
            "engine load: in the actor minus import vllm in a Ray worker / bare vllm.LLM alone",
            f"{actor_load - worker_import:.1f} vs {bare['load']:.1f} s (import vllm: {worker_import:.1f} s in a Ray worker)",
            ratio=(actor_load - worker_import) / bare["load"],
        ),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_table_arguments(parser)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per help measurement (the median counts)")
    parser.add_argument("--engine", action="store_true", help="also time generate's way to its first engine request (heavy: take the lock)")
    parser.add_argument("--limit", type=int, default=2, help="prompts of the --engine run")
    args = parser.parse_args()
    rows = help_rows(args.runs)
    if args.engine:
        rows += engine_rows(args.limit)
    emit(rows, args)


if __name__ == "__main__":
    main()
