"""TruthfulQA's per-item scores for the report, from `results.csv` (BLEU/ROUGE and the judges'
columns) and `mc_results.jsonl`. Items are questions, identified by their row position (the
generated CSV follows the data's order, and MC keys are the same positions). A question the
scorer left out (no answer, a failed judgement) has no item, as it is out of the means."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from rayeval.benchmarks.base import MetricItems
from rayeval.benchmarks.truthfulqa.scoring import MC_RESULTS, RESULTS
from rayeval.files import read_jsonl

_TEXT_COLUMN = re.compile(r" (bleu|rouge1|rouge2|rougeL) (max|diff|acc)$")
_JUDGE_COLUMN = re.compile(r" (GPT-judge|GPT-info)( acc)?$")
_JUDGE_METRICS = {"GPT-judge": "gpt_judge", "GPT-info": "gpt_info"}


def truthfulqa_item_scores(out_dir: Path) -> dict[str, MetricItems]:
    """Every mean summary metric of TruthfulQA, per question."""
    values: dict[str, dict[str, float]] = {}
    results = out_dir / RESULTS
    if results.is_file():
        with results.open(encoding="utf-8", newline="") as handle:
            for index, row in enumerate(csv.DictReader(handle)):
                for column, cell in row.items():
                    metric = _metric_of(column)
                    if metric is not None and cell not in ("", None):
                        values.setdefault(metric, {})[str(index)] = float(cell)
    if "gpt_judge_acc" in values and "gpt_info_acc" in values:
        truth, info = values["gpt_judge_acc"], values["gpt_info_acc"]
        values["gpt_true_info"] = {i: truth[i] * info[i] for i in truth if i in info}
    mc = out_dir / MC_RESULTS
    if mc.is_file():
        for row in read_jsonl(mc):
            for name in ("mc1", "mc2", "binary"):
                if row.get(name) is not None:
                    values.setdefault(name, {})[str(row["key"])] = float(row[name])
    return {metric: MetricItems(by_item) for metric, by_item in values.items()}


def _metric_of(column: str) -> str | None:
    """The summary metric a results.csv column holds, or None for the input columns."""
    if match := _TEXT_COLUMN.search(column):
        return f"{match.group(1)}_{match.group(2)}"
    if match := _JUDGE_COLUMN.search(column):
        return _JUDGE_METRICS[match.group(1)] + ("_acc" if match.group(2) else "")
    return None
