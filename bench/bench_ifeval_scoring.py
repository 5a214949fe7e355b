"""Time IFEval scoring of the 541 reference GPT-4 responses on one CPU core (target: < 2 s).

Usage: .venv/bin/python bench/bench_ifeval_scoring.py [--quick] [--json PATH] [--repeat N]

Reads ../shared/data (the IFEval inputs and the reference responses). Prints:
- setup: importing NLTK and langdetect and loading the Punkt parameters and language profiles,
  paid once per process (Ray worker);
- scoring: strict + loose verdicts for all 541 prompts (what `evaluate_ifeval` does between
  reading and writing files), first run and best of the repeats, wall and CPU time. The
  language-detection cache is cleared before every run, so no run reuses an earlier answer.
The target is judged on CPU time: the process is pinned to one core, and on a shared machine
its wall time also counts other processes' turns on that core. --quick scores once.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from _table import Row, add_table_arguments, emit

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TARGET_SECONDS = 2.0


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_table_arguments(parser)
    parser.add_argument("--repeat", type=int, default=None, help="scoring runs [default: 3; 1 with --quick]")
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.quick else 3)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    inputs = _read_jsonl(SHARED_DATA / "ifeval" / "input_data.jsonl")
    responses = [row["response"] for row in _read_jsonl(SHARED_DATA / "ifeval" / "reference" / "gpt4_responses.jsonl")]

    start = time.perf_counter()
    from rayeval.benchmarks.ifeval.scoring import score_rows
    from rayeval.scoring.instructions import text

    text.count_sentences("Warm up. Twice.")
    text.detect_language("Warm up the language profiles.")
    setup = time.perf_counter() - start

    runs = []
    for _ in range(max(1, repeat)):
        text.detect_language.cache_clear()
        wall, cpu = time.perf_counter(), time.process_time()
        strict, loose = score_rows(inputs, responses)
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    followed = sum(row["follow_all_instructions"] for row in strict), sum(row["follow_all_instructions"] for row in loose)

    best_wall = min(wall for wall, _ in runs)
    print(f"IFEval scoring, {len(inputs)} prompts, 1 core (prompts followed: strict {followed[0]}, loose {followed[1]})")
    print(f"  setup (imports, Punkt, language profiles): {setup:.2f} s")
    print(f"  scoring, first run: {runs[0][0]:.2f} s wall, {runs[0][1]:.2f} s CPU")
    print(f"  scoring, best of {len(runs)}: {best_wall:.2f} s wall, {min(cpu for _, cpu in runs):.2f} s CPU")
    first_cpu = runs[0][1]
    emit(
        [
            Row.at_most(
                f"IFEval scoring, {len(inputs)} prompts (first run, CPU time on 1 core)",
                f"{first_cpu:.2f} s ({runs[0][0]:.2f} s wall)",
                first_cpu,
                TARGET_SECONDS,
                unit=" s",
            )
        ],
        args,
    )


if __name__ == "__main__":
    main()
