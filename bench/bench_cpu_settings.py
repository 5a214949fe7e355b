"""Generated tokens/s of vLLM's CPU build under three process settings, side by side.

On the CPU vLLM runs the model in a worker process whose OpenMP threads it binds to cores. By
default (`VLLM_CPU_OMP_THREADS_BIND=auto`) it keeps one core per rank out of that binding for its
scheduler (engine-core) process, so on a 2-core machine the model computes on core 0 only. The
variants, each a fresh engine on the same prompts (the first N IFEval prompts,
SmolLM2-135M-Instruct, greedy, fixed max tokens, rayeval's engine settings):

  a. vLLM's default binding (one core reserved);
  b. every core the process may use (`cpu_thread_binding`, what rayeval's CPU engines set);
  c. b plus tcmalloc (Debian's libtcmalloc-minimal4) preloaded into the engine's processes —
     skipped, with the reason, when the library is not installed.

Each engine runs in its own spawned process and, as in a Ray actor (where vLLM forces it), starts
its engine-core and worker processes with `spawn`, so the settings reach them the way rayeval's
engine actor passes them (environment set before `LLM(...)`). The engine load is excluded; after
an untimed warm-up batch the batch is timed `--repeats` times per engine, `--rounds` engines per variant
(the order reversed every other round), and the best rate counts: the machine is shared, and
every run also prints the share of the machine's CPU that other processes took meanwhile. The
JSON printed at the end records what each engine process really got: its threads' allowed cores
and whether tcmalloc is mapped in. With a vLLM that is not the CPU build the script only reports
that it skipped.

    python bench/bench_cpu_settings.py [--quick] [--json PATH] [--prompts 64] [--max-tokens 128] [--repeats 3] [--rounds 2]

--quick: 32 prompts × 64 tokens, 3 timed repeats, one round (about 2 min on 2 cores).
"""

from __future__ import annotations

import argparse
import ctypes.util
import json
import multiprocessing
import os
import time
from pathlib import Path

from _table import Row, add_table_arguments, emit

TCMALLOC = "tcmalloc_minimal"
"""The library Debian's libtcmalloc-minimal4 installs (libtcmalloc_minimal.so.4)."""
WARMUP_TOKENS = 8
"""A first, untimed batch of every prompt with this few new tokens, so the timed ones do not pay
first-call costs (allocations for the batch's size, kernel selection): with a 2-prompt warm-up the
first timed batch was up to 25 % slower than the next."""


def engine_processes(root: int) -> list[int]:
    """Every descendant of `root` (vLLM's engine core and its workers)."""
    children = Path(f"/proc/{root}/task/{root}/children").read_text().split()
    return [pid for child in children for pid in [int(child), *engine_processes(int(child))]]


def status_field(path: Path, field: str) -> str:
    for line in path.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return line.split(":", 1)[1].strip()
    return ""


def process_settings(pid: int) -> dict:
    """What one process really runs with: its name, its threads' allowed cores (threads grouped
    by core list) and whether tcmalloc is mapped in."""
    threads: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        cores = status_field(task / "status", "Cpus_allowed_list")
        threads[cores] = threads.get(cores, 0) + 1
    return {
        "pid": pid,
        "name": Path(f"/proc/{pid}/comm").read_text().strip(),
        "threads_by_cores": threads,
        "tcmalloc": "libtcmalloc" in Path(f"/proc/{pid}/maps").read_text(),
    }


def machine_busy_seconds() -> float:
    """CPU time every process on the machine has used since boot, plus what the hypervisor took
    (steal), all cores (/proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def tree_busy_seconds(root: int) -> float:
    """CPU time `root` and its live descendants have used (fields 14-15 of /proc/PID/stat)."""
    total = 0
    for pid in [root, *engine_processes(root)]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_variant(model_path: str, prompts: list[str], max_tokens: int, repeats: int, env: dict[str, str], queue) -> None:
    """One engine under `env`; runs in its own process, so no two engines share threads."""
    os.environ.update(env)
    # What vLLM forces inside a Ray actor: its engine processes are exec'd, so LD_PRELOAD reaches them.
    os.environ["VLLM_WORKER_MULTIPROC_METHOD"] = "spawn"
    from vllm import LLM, SamplingParams

    from rayeval.config import EngineConfig

    engine = EngineConfig()
    llm = LLM(model=model_path, gpu_memory_utilization=engine.memory_fraction(False), enforce_eager=engine.eager(False), seed=0)
    chats = [[{"role": "user", "content": p}] for p in prompts]
    llm.chat(chats, SamplingParams(temperature=0.0, max_tokens=WARMUP_TOKENS), use_tqdm=False)
    params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=0)
    runs = []
    for _ in range(repeats):
        busy, ours, started = machine_busy_seconds(), tree_busy_seconds(os.getpid()), time.perf_counter()
        outputs = llm.chat(chats, sampling_params=params, use_tqdm=False)
        seconds = time.perf_counter() - started
        others = machine_busy_seconds() - busy - (tree_busy_seconds(os.getpid()) - ours)
        tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
        runs.append({"seconds": seconds, "tokens": tokens, "others_cpu_share": max(0.0, others) / seconds / len(os.sched_getaffinity(0))})
    settings = [process_settings(pid) for pid in engine_processes(os.getpid())]
    queue.put({"runs": runs, "processes": settings})
    # Without an explicit shutdown the engine-core child outlives `llm` and this process's exit
    # waits for it forever.
    llm.llm_engine.engine_core.shutdown()


def measure(model_path: str, prompts: list[str], max_tokens: int, repeats: int, env: dict[str, str]) -> dict:
    """One engine under `env` in a fresh process: its timed runs and its processes' settings."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=run_variant, args=(model_path, prompts, max_tokens, repeats, env, queue))
    worker.start()
    result = queue.get()
    worker.join(timeout=120)
    if worker.is_alive():
        worker.kill()
    return result


def best_rate(runs: list[dict]) -> float:
    return max(run["tokens"] / run["seconds"] for run in runs)


def ratio_row(name: str, faster: list[dict], slower: list[dict]) -> Row:
    ratio = best_rate(faster) / best_rate(slower)
    return Row.reported(name, f"{best_rate(faster):.1f} vs {best_rate(slower):.1f} tok/s", ratio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_table_arguments(parser)
    parser.add_argument("--prompts", type=int, help="IFEval prompts per batch [64; 32 with --quick]")
    parser.add_argument("--max-tokens", type=int, help="new tokens per prompt [128; 64 with --quick]")
    parser.add_argument("--repeats", type=int, help="timed batches per engine [3]")
    parser.add_argument("--rounds", type=int, help="engines per variant, the order reversed every other round [2; 1 with --quick]")
    args = parser.parse_args()
    prompts_n = args.prompts or (32 if args.quick else 64)
    max_tokens = args.max_tokens or (64 if args.quick else 128)
    repeats = args.repeats or 3
    rounds = args.rounds or (1 if args.quick else 2)

    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        emit([Row.reported("CPU engine settings", f"skipped: vLLM runs on {current_platform.device_name}, not its CPU build")], args)
        return

    from rayeval.benchmarks.ifeval.files import load_ifeval_inputs
    from rayeval.builtin_models import builtin_model_path
    from rayeval.data import DataSource
    from rayeval.engine.vllm_engine import cpu_thread_binding

    model_path = str(builtin_model_path("smollm2"))
    prompts = [row["prompt"] for row in load_ifeval_inputs(DataSource())[:prompts_n]]
    every_core = {"VLLM_CPU_OMP_THREADS_BIND": cpu_thread_binding(1)}
    tcmalloc = ctypes.util.find_library(TCMALLOC)
    variants = {"a": {"VLLM_CPU_OMP_THREADS_BIND": "auto"}, "b": every_core}
    if tcmalloc is not None:
        variants["c"] = {**every_core, "LD_PRELOAD": tcmalloc}
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    processes: dict[str, list[dict]] = {}
    for round_ in range(rounds):
        for name in list(variants)[:: -1 if round_ % 2 else 1]:
            result = measure(model_path, prompts, max_tokens, repeats, variants[name])
            runs[name] += result["runs"]
            processes.setdefault(name, result["processes"])
            rates = ", ".join(f"{r['tokens'] / r['seconds']:.1f} ({r['others_cpu_share']:.0%})" for r in result["runs"])
            print(f"{name} {variants[name]}: {rates} tok/s (share of the machine's CPU used by others)", flush=True)
    print(
        json.dumps({"prompts": prompts_n, "max_tokens": max_tokens, "variants": variants, "runs": runs, "processes": processes}, indent=2)
    )

    label = f"{prompts_n} prompts x {max_tokens} tokens, best of {rounds * repeats}"
    titles = {
        "a": "vLLM default binding (1 core reserved)",
        "b": f"every core ({every_core['VLLM_CPU_OMP_THREADS_BIND']})",
        "c": f"every core + LD_PRELOAD {tcmalloc}",
    }
    rows = [Row.reported(f"CPU engine, {titles[name]} ({label})", f"{best_rate(runs[name]):.1f} tok/s") for name in variants]
    rows.append(ratio_row("CPU every core / vLLM default binding (b/a)", runs["b"], runs["a"]))
    if tcmalloc is None:
        rows.append(
            Row.reported("CPU tcmalloc preloaded / not (c/b)", f"skipped: no lib{TCMALLOC}.so (apt-get install libtcmalloc-minimal4)")
        )
    else:
        rows.append(ratio_row("CPU tcmalloc preloaded / not (c/b)", runs["c"], runs["b"]))
    emit(rows, args)


if __name__ == "__main__":
    main()
