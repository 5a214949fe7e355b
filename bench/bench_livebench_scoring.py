"""Time LiveBench scoring of the shared reference answers (reads ../shared; target < 10 s).

Prints, per task, the CPU time of scoring every reference answer in this process, then the
wall-clock time of the plugin's full `evaluate` (parallel worker processes, judgments and
summary written) over all 482 answers, each run with the machine's load average, since the cores
here are shared. The first run in a process includes starting the scoring fork server; later
runs (`--repeat N`) reuse it, as later evaluations in one Ray worker do. Coding tasks (code
execution) are not part of the reference data.

    .venv/bin/python bench/bench_livebench_scoring.py [--quick] [--json PATH] [--repeat N]

--quick skips the per-task CPU breakdown (the target is on the first full evaluate).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from _table import Row, add_table_arguments, emit

from rayeval.benchmarks.base import EvalContext
from rayeval.benchmarks.livebench.options import LiveBenchOptions
from rayeval.benchmarks.livebench.scoring import default_workers, strip_thinking
from rayeval.benchmarks.livebench.spec import BENCHMARK
from rayeval.benchmarks.livebench.tasks import scorer_for
from rayeval.data import DataSource

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REFERENCE = DATA / "livebench-reference"
TARGET_SECONDS = 10.0


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def per_task_cpu() -> dict[str, float]:
    """CPU seconds to score each task's reference answers in this process (imports included)."""
    seconds = {}
    for answers in sorted(REFERENCE.glob("*/*/model_answer.jsonl")):
        category, task = answers.parent.parent.name, answers.parent.name
        questions = {row["question_id"]: row for row in _rows(DATA / "livebench" / category / task / "question.jsonl")}
        scorer = scorer_for(task)
        start = time.process_time()
        for answer in _rows(answers):
            try:
                scorer(questions[answer["question_id"]], strip_thinking(answer["choices"][0]["turns"][-1]))
            except Exception:  # scoring errors count as scored work here
                pass
        seconds[task] = time.process_time() - start
    return seconds


def full_evaluate_wall() -> float:
    """Wall seconds of the plugin's evaluate over every reference answer (two releases are
    needed to include every question; the second only re-scores the newer zebra puzzles)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for release, tasks in (("2024-08-31", None), ("2024-11-25", ["zebra_puzzle"])):
            out_dir = Path(tmp) / release / "livebench"
            for answers in REFERENCE.glob("*/*/model_answer.jsonl"):
                if tasks is None or answers.parent.name in tasks:
                    target = out_dir / answers.parent.parent.name / answers.parent.name
                    target.mkdir(parents=True)
                    shutil.copy(answers, target / "model_answer.jsonl")
            options = LiveBenchOptions(release=release, tasks=tasks)
            BENCHMARK.evaluate(EvalContext(model_id="bench", out_dir=out_dir, data=DataSource(data_dir=DATA), options=options))
    return time.perf_counter() - start


def _load() -> str:
    return f"load average {' '.join(f'{value:.1f}' for value in os.getloadavg())} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_table_arguments(parser)
    parser.add_argument("--repeat", type=int, default=1, help="full evaluate runs (default 1)")
    args = parser.parse_args()
    if not args.quick:
        cpu = per_task_cpu()
        for task, seconds in cpu.items():
            print(f"{task:16s} {seconds:6.2f} s CPU (single process)")
        print(f"{'all tasks':16s} {sum(cpu.values()):6.2f} s CPU (single process)")
    walls = []
    for run in range(1, max(1, args.repeat) + 1):
        before = _load()
        walls.append(full_evaluate_wall())
        print(
            f"full evaluate of 482 answers, run {run}: {walls[-1]:.2f} s wall with {default_workers()} worker processes "
            f"(target < {TARGET_SECONDS:g} s); {before} before, {_load()} after"
        )
    emit(
        [
            Row.at_most(
                "LiveBench scoring, 482 reference answers (first run, wall)",
                f"{walls[0]:.2f} s with {default_workers()} worker processes",
                walls[0],
                TARGET_SECONDS,
                unit=" s",
            )
        ],
        args,
    )


if __name__ == "__main__":
    main()
