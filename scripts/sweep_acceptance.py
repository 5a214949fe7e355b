"""The sweep's acceptance run: `rayeval sweep RUN --limit 10` over three real checkpoints, with
AlpacaEval judged once by a local OpenAI-compatible endpoint and once by the in-cluster judge.

The checkpoints are SmolLM2-135M-Instruct (rayeval's built-in model) with different weights:
checkpoint-100 as built, checkpoint-200 and checkpoint-300 with Gaussian noise added to every
weight matrix (a fixed seed; 1% and 2% of each tensor's standard deviation), so their answers
differ. The endpoint judge is vLLM's OpenAI server of SmolLM2 started here; the in-cluster judge
is the same model served by rayeval inside the sweep's Ray. Everything goes through the real CLI.

    .venv/bin/python scripts/sweep_acceptance.py --work /tmp/acceptance [--max-tokens 256]

It prints, per judge, the sweep's own tables and then what it checked: each model's four
benchmark folders with their files, and a summary row for each headline metric. Exit 0 when all
checks hold. On these 2-core machines it takes about half an hour.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

STEPS = (100, 200, 300)
NOISE = {100: 0.0, 200: 0.01, 300: 0.02}
"""Noise per checkpoint, as a fraction of each weight tensor's standard deviation: enough to
change greedy answers, small enough to keep the model fluent."""
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""AlpacaEval's and LiveBench's data (rayeval ships only IFEval's and TruthfulQA's); offline, the
shared folder beside the project holds them in the `--data-dir` layout."""
BENCHMARK_DIRS = {"ifeval": "ifeval", "truthfulqa": "truthfulqa", "alpacaeval": "alpacaeval2", "livebench": "livebench"}


def build_checkpoints(run: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    from rayeval.builtin_models import builtin_model_path

    source = builtin_model_path("smollm2")
    weights = load_file(str(source / "model.safetensors"))
    for step in STEPS:
        target = run / f"checkpoint-{step}"
        if (target / "model.safetensors").is_file():
            continue
        target.mkdir(parents=True, exist_ok=True)
        for item in source.iterdir():
            if item.name != "model.safetensors":
                shutil.copy2(item, target / item.name)
        generator = torch.Generator().manual_seed(step)
        noisy = {}
        for name, tensor in weights.items():
            if NOISE[step] and tensor.ndim == 2:
                noise = torch.randn(tensor.shape, generator=generator, dtype=torch.float32) * float(tensor.float().std()) * NOISE[step]
                tensor = (tensor.float() + noise).to(tensor.dtype)
            noisy[name] = tensor.contiguous()
        save_file(noisy, str(target / "model.safetensors"), metadata={"format": "pt"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_endpoint(model: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--served-model-name", "judge",
        "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--gpu-memory-utilization", "0.2",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the judge endpoint exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=5):
                return process, url
        except OSError:
            time.sleep(2)
    process.kill()
    raise SystemExit(f"the judge endpoint did not start in 600 s; see {log}")


def sweep(run: Path, results: Path, max_tokens: int, *options: str) -> float:
    command = [sys.executable, "-m", "rayeval", "sweep", str(run), "--limit", "10", "--max-tokens", str(max_tokens)]
    command += ["--results-dir", str(results), "--data-dir", str(DATA), *options]
    print("$", " ".join(command), flush=True)
    started = time.monotonic()
    done = subprocess.run(command, env={k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"})
    print(f"exit status {done.returncode} after {time.monotonic() - started:.0f} s", flush=True)
    return time.monotonic() - started


def check(results: Path, model_ids: list[str], benchmarks: list[str], skipped: tuple[str, ...] = ()) -> list[str]:
    """What is missing: a benchmark folder without files, or a headline metric without a value
    (`skipped`: metrics the run was told not to compute)."""
    from rayeval.benchmarks import get

    problems = []
    for model_id in model_ids:
        rows = [json.loads(line) for line in (results / "summaries" / f"{model_id}_scores.jsonl").read_text().splitlines()]
        for name in benchmarks:
            folder = results / model_id / BENCHMARK_DIRS[name]
            files = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
            if not files:
                problems.append(f"{model_id}: no {name} files")
            values = {r["metric"]: r["value"] for r in rows if r["benchmark"] == name}
            for metric in get(name).headline_metrics:
                if metric == "length_controlled_winrate" or metric in skipped:
                    continue  # needs alpaca_eval's df_gamed.csv from the hub: empty offline, by design
                if values.get(metric) is None:
                    problems.append(f"{model_id}: {name} {metric} has no value")
            print(
                f"  {model_id} {name}: {len(files)} files, "
                + ", ".join(f"{k}={v}" for k, v in values.items() if k in get(name).headline_metrics)
            )
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the checkpoints, logs and results")
    parser.add_argument("--max-tokens", type=int, default=256, help="cap on generated tokens (keeps the CPU run short)")
    parser.add_argument(
        "--no-truthfulqa-mc",
        action="store_true",
        help="skip TruthfulQA's MC log-likelihoods: on one CPU core they take ~15 min per checkpoint for 10 questions (measured 2026-12-02)",
    )
    args = parser.parse_args()
    work = args.work.resolve()
    mc = ["--no-truthfulqa-mc"] if args.no_truthfulqa_mc else []
    run = work / "run"
    build_checkpoints(run)
    ids = [f"run_checkpoint-{step}" for step in STEPS]

    from rayeval.builtin_models import builtin_model_path

    judge_model = builtin_model_path("smollm2")
    endpoint, url = start_endpoint(judge_model, work / "endpoint-judge.log")
    try:
        seconds = sweep(run, work / "results-endpoint", args.max_tokens, "--judge-api-base", url, "--judge-model", "judge", *mc)
    finally:
        os.killpg(endpoint.pid, 15)
        endpoint.wait(timeout=60)
    print(f"endpoint judge: sweep took {seconds:.0f} s; checking")
    problems = check(work / "results-endpoint", ids, list(BENCHMARK_DIRS), ("mc1", "mc2") if mc else ())

    seconds = sweep(run, work / "results-in-cluster", args.max_tokens, "-b", "alpacaeval", "--judge-model", str(judge_model))
    print(f"in-cluster judge: sweep took {seconds:.0f} s; checking")
    problems += check(work / "results-in-cluster", ids, ["alpacaeval"])
    for problem in problems:
        print("MISSING", problem)
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
