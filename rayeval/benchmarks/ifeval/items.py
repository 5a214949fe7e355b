"""IFEval's per-item scores for the report, from the eval-result files the scorer wrote.

Items are prompts, identified by their position in the input data (every model's files follow
the input order). Instruction-level metrics keep each prompt's instructions together (the
prompt's followed count over its instruction count), so intervals resample prompts, not
instructions; `instruction/<id>` gives the strict accuracy per instruction type.
"""

from __future__ import annotations

from pathlib import Path

from rayeval.benchmarks.base import MetricItems
from rayeval.benchmarks.ifeval.scoring import LOOSE_RESULTS, STRICT_RESULTS
from rayeval.files import read_jsonl


def ifeval_item_scores(out_dir: Path) -> dict[str, MetricItems]:
    """The four official metrics per prompt, and the strict accuracy per instruction type."""
    scores: dict[str, MetricItems] = {}
    for mode, filename in (("strict", STRICT_RESULTS), ("loose", LOOSE_RESULTS)):
        path = out_dir / filename
        if not path.is_file():
            continue
        rows = {str(index): row for index, row in enumerate(read_jsonl(path))}
        scores[f"prompt_level_{mode}_acc"] = MetricItems({i: float(all(r["follow_instruction_list"])) for i, r in rows.items()})
        scores[f"inst_level_{mode}_acc"] = MetricItems(
            {i: float(sum(r["follow_instruction_list"])) for i, r in rows.items()},
            weights={i: float(len(r["follow_instruction_list"])) for i, r in rows.items()},
        )
        if mode == "strict":
            scores.update(_per_instruction(rows))
    return scores


def _per_instruction(rows: dict[str, dict]) -> dict[str, MetricItems]:
    """Strict accuracy of each instruction type over the prompts that carry it."""
    followed: dict[str, dict[str, float]] = {}
    counts: dict[str, dict[str, float]] = {}
    for item_id, row in rows.items():
        for instruction_id, ok in zip(row["instruction_id_list"], row["follow_instruction_list"]):
            followed.setdefault(instruction_id, {}).setdefault(item_id, 0.0)
            counts.setdefault(instruction_id, {}).setdefault(item_id, 0.0)
            followed[instruction_id][item_id] += float(ok)
            counts[instruction_id][item_id] += 1.0
    return {f"instruction/{name}": MetricItems(followed[name], weights=counts[name]) for name in sorted(followed)}
