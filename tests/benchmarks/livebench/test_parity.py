"""Per-question parity with the official LiveBench scorer (reads ../shared).

`../shared/data/livebench-reference/<category>/<task>/` holds a real 8B model's answers and the
official `ground_truth_judgment.jsonl` (scorer of August 2025) for 8 tasks. The answers are put
into a results folder and scored by the plugin's `evaluate` with the questions of
`../shared/data/livebench`; every official per-question score must come out the same.

No single release holds every reference question (old zebra puzzles were removed on 2024-11-25,
when the new ones arrived), so the folder is scored for release 2024-08-31, and the zebra task
again for 2024-11-25.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from paths import SHARED

from rayeval.benchmarks.base import EvalContext
from rayeval.benchmarks.livebench.options import LiveBenchOptions
from rayeval.benchmarks.livebench.spec import BENCHMARK
from rayeval.data import DataSource

DATA = SHARED / "data"
REFERENCE = DATA / "livebench-reference"

pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason="needs ../shared/data/livebench-reference")


def _evaluate(tmp_path: Path, name: str, release: str, tasks: list[str] | None) -> dict[str, dict]:
    out_dir = tmp_path / name / "livebench"
    for answers in REFERENCE.glob("*/*/model_answer.jsonl"):
        if tasks is None or answers.parent.name in tasks:
            target = out_dir / answers.parent.parent.name / answers.parent.name
            target.mkdir(parents=True)
            shutil.copy(answers, target / "model_answer.jsonl")
    ctx = EvalContext(
        model_id="zft-community-8b-bs4",
        out_dir=out_dir,
        data=DataSource(data_dir=DATA),
        options=LiveBenchOptions(release=release, tasks=tasks),
    )
    BENCHMARK.evaluate(ctx)
    return {
        row["question_id"]: row
        for judgments in out_dir.glob("*/*/judgment.jsonl")
        for row in map(json.loads, judgments.read_text().splitlines())
    }


def test_every_reference_question_scores_as_officially(tmp_path: Path) -> None:
    ours = _evaluate(tmp_path, "older", "2024-08-31", None)
    ours.update(_evaluate(tmp_path, "zebra", "2024-11-25", ["zebra_puzzle"]))
    checked, mismatches = 0, []
    for official_file in sorted(REFERENCE.glob("*/*/ground_truth_judgment.jsonl")):
        for official in map(json.loads, official_file.read_text().splitlines()):
            checked += 1
            mine = ours.get(official["question_id"])
            if mine is None or mine["score"] is None or float(mine["score"]) != float(official["score"]):
                mismatches.append(
                    (official["task"], official["question_id"][:12], official["score"], mine and (mine["score"], mine.get("error")))
                )
            else:
                assert mine["task"] == official["task"] and mine["category"] == official["category"]
    assert checked == 482
    assert mismatches == []
