"""LiveBench's per-item scores for the report, from each task's `judgment.jsonl`.

Items are questions (`question_id`). The means are LiveBench's: a task is 100 × the mean of its
answers' scores, a category the mean of its tasks, overall the mean of categories, so the
category and overall metrics are grouped (`MetricItems.groups`) and intervals resample answers
within each task. An answer that could not be scored (`score: null`) is out of the means.
"""

from __future__ import annotations

from pathlib import Path

from rayeval.benchmarks.base import MetricItems
from rayeval.benchmarks.livebench.files import JUDGMENTS
from rayeval.files import read_jsonl

PERCENT = 100.0
"""LiveBench reports scores ×100 (`show_livebench_result`), and so do the summary rows."""


def livebench_item_scores(out_dir: Path) -> dict[str, MetricItems]:
    scores: dict[str, float] = {}
    where: dict[str, tuple[str, ...]] = {}
    for path in sorted(out_dir.glob(f"*/*/{JUDGMENTS}")):
        category, task = path.parent.parent.name, path.parent.name
        for row in read_jsonl(path):
            if row.get("score") is not None:
                scores[str(row["question_id"])] = float(row["score"])
                where[str(row["question_id"])] = (category, task)
    if not scores:
        return {}
    items = {"overall": MetricItems(scores, groups=where, scale=PERCENT)}
    for category in sorted({c for c, _ in where.values()}):
        ids = [i for i, (c, _) in where.items() if c == category]
        items[f"category/{category}"] = MetricItems({i: scores[i] for i in ids}, groups={i: (where[i][1],) for i in ids}, scale=PERCENT)
    for task in sorted({t for _, t in where.values()}):
        items[f"task/{task}"] = MetricItems({i: scores[i] for i, (_, t) in where.items() if t == task}, scale=PERCENT)
    return items
