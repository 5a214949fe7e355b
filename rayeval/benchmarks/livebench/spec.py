"""LiveBench (White et al., 2024): questions with objective ground truth in six categories.

Questions come from `<data-dir>/livebench/<category>/<task>/question.jsonl` or, without a data
dir, the hub datasets `livebench/<category>` (`questions`). Options (`options.LiveBenchOptions`):
the release date (keep questions released on or before it and not removed on or before it, as the
official tool does), the categories/tasks to run, scoring workers and the per-answer time limit.
Tasks and their scorers are registered in `tasks`.

Generation writes `<category>/<task>/model_answer.jsonl` in LiveBench's answer format (sorted by
`question_id`). Generation is done when at least one answer file is there and no journal of an
unfinished generation is left (`ResultStore.generation_finished`), so answer files that LiveBench's
own `gen_api_answer`, another tool or a person put there are scored like rayeval's.

Evaluation scores every `model_answer.jsonl` of a selected task against the selected questions
(reasoning `<think>...</think>` spans removed first, as the official scorer does), writes
`judgment.jsonl` next to each, and `scores.json` with per-task means, category means (mean of
their tasks) and the overall mean (of categories), all ×100 as `show_livebench_result` reports
(which shows a category only when all its tasks have judgments; here a mean covers the tasks and
categories that were answered).
An answer that cannot be scored gets `score: null` and an `error`; it is counted, not averaged in.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from pathlib import Path

from rayeval.benchmarks.base import Benchmark, EvalContext, Item, MetricItems, Score
from rayeval.benchmarks.livebench.files import ANSWERS
from rayeval.benchmarks.livebench.options import LiveBenchOptions
from rayeval.benchmarks.livebench.questions import load_questions
from rayeval.data import DataSource
from rayeval.errors import RayevalError
from rayeval.files import atomic_write_jsonl
from rayeval.requests import ChatRequest, GenerationResult, Request, Result, generated


class LiveBench(Benchmark[LiveBenchOptions]):
    name = "livebench"
    results_dirname = "livebench"
    version = "1"
    options_model = LiveBenchOptions
    default_max_tokens = 4096  # the official `gen_api_answer --max-tokens` default (greedy decoding there)
    headline_metrics = ("overall",)

    def load_items(self, data: DataSource, options: LiveBenchOptions) -> list[Item]:
        items: list[Item] = []
        seen: set[str] = set()
        for rows in load_questions(data, options).values():
            for row in rows:
                key = str(row["question_id"])
                if key in seen:
                    raise RayevalError(f"LiveBench question_id {key} appears twice; fix the question files")
                if len(row["turns"]) != 1:
                    raise RayevalError(f"LiveBench question {key} has {len(row['turns'])} turns; only single-turn questions are supported")
                seen.add(key)
                items.append(Item(key=key, data=row))
        return items

    def build_requests(self, items: list[Item]) -> list[Request]:
        return [
            ChatRequest(key=item.key, messages=({"role": "user", "content": item.data["turns"][0]},), max_tokens=self.default_max_tokens)
            for item in items
        ]

    def generation_files(self) -> list[str]:
        return []  # which tasks are answered depends on the options: see generation_done

    def generation_done(self, out_dir: Path) -> bool:
        return any(out_dir.glob(f"*/*/{ANSWERS}"))

    def write_generations(self, out_dir: Path, model_id: str, items: list[Item], results: dict[str, Result]) -> None:
        by_task: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for item in items:
            row = answer_row(item.data, model_id, generated(results[item.key]))
            by_task[(item.data["category"], item.data["task"])].append(row)
        for (category, task), rows in sorted(by_task.items()):
            atomic_write_jsonl(out_dir / category / task / ANSWERS, sorted(rows, key=lambda row: row["question_id"]))

    def evaluate(self, ctx: EvalContext[LiveBenchOptions]) -> list[Score]:
        from rayeval.benchmarks.livebench.scoring import evaluate_livebench

        return evaluate_livebench(ctx)

    def item_scores(self, out_dir: Path) -> dict[str, MetricItems]:
        from rayeval.benchmarks.livebench.items import livebench_item_scores

        return livebench_item_scores(out_dir)


def answer_row(question: dict, model_id: str, result: GenerationResult) -> dict:
    """One line of LiveBench's `model_answer.jsonl`."""
    return {
        "question_id": question["question_id"],
        "answer_id": uuid.uuid4().hex,
        "model_id": model_id,
        "choices": [{"index": 0, "turns": [result.text]}],
        "tstamp": time.time(),
        "prompt_tokens": result.prompt_tokens,
        "total_output_tokens": result.completion_tokens,
        "finish_reason": result.finish_reason,
    }


BENCHMARK = LiveBench()
