"""LiveBench (White et al., 2024): questions with objective ground truth in six categories.

Questions come from `<data-dir>/livebench/<category>/<task>/question.jsonl` or, without a data
dir, the hub datasets `livebench/<category>`. Options:

- `livebench_release` (default "2024-11-25"): keep questions released on or before that date and
  not removed on or before it (`livebench_removal_date` empty or later), as the official tool does;
- `livebench_tasks`: category and/or task names to run (None: every task with data);
- `livebench_workers` / `livebench_item_timeout`: scoring processes (default: the usable cores,
  at most 8) and the wall-clock limit of one answer's scoring (default 300 s).

Generation writes `<category>/<task>/model_answer.jsonl` in LiveBench's answer format (sorted by
`question_id`), then `generation_complete.json` (the tasks written and their answer counts). The task set depends on
the options, so that marker, written last, is the "generation done" file.

Evaluation scores every `model_answer.jsonl` of a selected task against the selected questions
(reasoning `<think>...</think>` spans removed first, as the official scorer does), writes
`judgment.jsonl` next to each, and `scores.json` with per-task means, category means (mean of
their tasks) and the overall mean (of categories), all ×100 as `show_livebench_result` reports
(which shows a category only when all its tasks have judgments; here a mean covers the tasks and
categories that were answered).
An answer that cannot be scored gets `score: null` and an `error`; it is counted, not averaged in.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from statistics import mean
from typing import Any

from rayeval.benchmarks.base import Benchmark, EvalContext, Item, Score
from rayeval.data import DataSource, HubFile
from rayeval.errors import RayevalError
from rayeval.requests import ChatRequest, GenerationResult, Request, Result
from rayeval.store import atomic_write_json, atomic_write_jsonl, read_jsonl

CATEGORIES: dict[str, tuple[str, ...]] = {
    "coding": ("LCB_generation", "coding_completion"),
    "data_analysis": ("cta", "tablejoin", "tablereformat"),
    "instruction_following": ("paraphrase", "simplify", "story_generation", "summarize"),
    "language": ("connections", "plot_unscrambling", "typos"),
    "math": ("AMPS_Hard", "math_comp", "olympiad"),
    "reasoning": ("spatial", "web_of_lies_v2", "zebra_puzzle"),
}
DEFAULT_RELEASE = "2024-11-25"
ANSWERS = "model_answer.jsonl"
JUDGMENTS = "judgment.jsonl"
SCORES = "scores.json"
DONE_MARKER = "generation_complete.json"
DEFAULT_ITEM_TIMEOUT = 300.0
DEFAULT_MAX_WORKERS = 8
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def strip_thinking(text: str) -> str:
    """Remove complete `<think>...</think>` spans (an unclosed one stays, as officially)."""
    return _THINK.sub("", text)


def default_workers() -> int:
    """Scoring processes when `livebench_workers` is not set: the usable cores, at most 8."""
    return min(DEFAULT_MAX_WORKERS, len(os.sched_getaffinity(0)))


def question_file(category: str, task: str) -> str:
    return f"livebench/{category}/{task}/question.jsonl"


def _iso_date(value: Any) -> str:
    """Dates as the official loader compares them: "YYYY-MM-DD" strings ("" for none)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (datetime, date)):
        return value.strftime("%Y-%m-%d")
    return str(value)[:10] if re.match(r"\d{4}-\d{2}-\d{2}", str(value)) else str(value)


def in_release(question: dict, release: str) -> bool:
    """Released on or before `release` and not removed on or before it."""
    removed = question.get("livebench_removal_date") or ""
    return question["livebench_release_date"] <= release and (removed == "" or removed > release)


def selected_tasks(wanted: list[str] | None) -> list[tuple[str, str]]:
    """(category, task) pairs named by `wanted` (category or task names; None: all)."""
    pairs = [(category, task) for category, tasks in CATEGORIES.items() for task in tasks]
    if wanted is None:
        return pairs
    unknown = set(wanted) - set(CATEGORIES) - {task for _, task in pairs}
    if unknown:
        raise RayevalError(
            f"unknown LiveBench task or category {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(list(CATEGORIES) + [task for _, task in pairs])}"
        )
    return [(category, task) for category, task in pairs if category in wanted or task in wanted]


def _release_option(options: dict[str, Any]) -> str:
    release = options.get("livebench_release") or DEFAULT_RELEASE
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(release)):
        raise RayevalError(f"--livebench-release {release!r} is not a date; give one like {DEFAULT_RELEASE}")
    return str(release)


class LiveBench(Benchmark):
    name = "livebench"
    results_dirname = "livebench"
    default_max_tokens = 4096  # the official `gen_api_answer --max-tokens` default (greedy decoding there)

    # ---- questions ---------------------------------------------------------------------------

    def load_questions(self, data: DataSource, options: dict[str, Any]) -> dict[tuple[str, str], list[dict]]:
        """Selected questions by (category, task), in file order; tasks without data are left out
        (an explicitly requested task without data is an error)."""
        release = _release_option(options)
        wanted = options.get("livebench_tasks")
        selected: dict[tuple[str, str], list[dict]] = {}
        hub_rows: dict[str, list[dict]] = {}
        for category, task in selected_tasks(wanted):
            rows = self._task_rows(data, category, task, wanted is not None and task in wanted, hub_rows)
            if rows is None:
                continue
            kept = [row for row in rows if in_release(row, release)]
            if kept:
                selected[(category, task)] = kept
        if not selected:
            raise RayevalError(f"no LiveBench questions for release {release} and tasks {wanted or 'all'}; check --data-dir and --livebench-tasks")
        return selected

    def _task_rows(self, data: DataSource, category: str, task: str, explicit: bool, hub_rows: dict[str, list[dict]]) -> list[dict] | None:
        """A task's question rows with normalised dates; None when there is no data for it."""
        if data.data_dir is not None:
            if not (data.data_dir / question_file(category, task)).is_file() and not explicit:
                return None
            rows = read_jsonl(data.find(question_file(category, task)))
        else:
            if category not in hub_rows:
                hub_rows[category] = _hub_category(data, category)
            rows = [dict(row) for row in hub_rows[category] if row.get("task") == task]
            if not rows:
                if explicit:
                    raise RayevalError(f"the hub dataset livebench/{category} has no task {task}")
                return None
        for row in rows:
            row["category"] = row.get("category") or category
            row["task"] = row.get("task") or task
            for name in ("livebench_release_date", "livebench_removal_date"):
                row[name] = _iso_date(row.get(name))
        return rows

    def load_items(self, data: DataSource, options: dict[str, Any]) -> list[Item]:
        items: list[Item] = []
        seen: set[str] = set()
        for rows in self.load_questions(data, options).values():
            for row in rows:
                key = str(row["question_id"])
                if key in seen:
                    raise RayevalError(f"LiveBench question_id {key} appears twice; fix the question files")
                if len(row["turns"]) != 1:
                    raise RayevalError(f"LiveBench question {key} has {len(row['turns'])} turns; only single-turn questions are supported")
                seen.add(key)
                items.append(Item(key=key, data=row))
        return items

    # ---- generation --------------------------------------------------------------------------

    def build_requests(self, items: list[Item]) -> list[Request]:
        return [
            ChatRequest(key=item.key, messages=({"role": "user", "content": item.data["turns"][0]},), max_tokens=self.default_max_tokens)
            for item in items
        ]

    def generation_files(self) -> list[str]:
        return [DONE_MARKER]

    def write_generations(self, out_dir: Path, model_id: str, items: list[Item], results: dict[str, Result]) -> None:
        by_task: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for item in items:
            result = results[item.key]
            if not isinstance(result, GenerationResult):
                raise TypeError(f"LiveBench expects generation results, got {type(result).__name__}")
            by_task[(item.data["category"], item.data["task"])].append(answer_row(item.data, model_id, result))
        for (category, task), rows in sorted(by_task.items()):
            atomic_write_jsonl(out_dir / category / task / ANSWERS, sorted(rows, key=lambda row: row["question_id"]))
        atomic_write_json(
            out_dir / DONE_MARKER,
            {"model_id": model_id, "tasks": {f"{category}/{task}": len(rows) for (category, task), rows in sorted(by_task.items())}},
        )

    # ---- scoring -----------------------------------------------------------------------------

    def evaluate(self, ctx: EvalContext) -> list[Score]:
        from rayeval.scoring.livebench import scorer_spec
        from rayeval.scoring.livebench.pool import Job, score_jobs

        answered = _answered_questions(ctx, self.load_questions(ctx.data, ctx.options))
        jobs = [
            Job(
                key=f"{category}/{task}/{answer['question_id']}",
                scorer=scorer_spec(task),
                question=question,
                answer=strip_thinking(answer["choices"][0]["turns"][-1]),
            )
            for (category, task), pairs in answered.items()
            for question, answer in pairs
        ]
        # slowest first (sympy parses of long AMPS_Hard expressions), so no straggler ends the run
        jobs.sort(key=lambda job: ("AMPS_Hard" not in job.key, -len(str(job.question.get("ground_truth", "")))))
        outcomes = score_jobs(
            jobs,
            workers=int(ctx.options.get("livebench_workers") or default_workers()),
            timeout=float(ctx.options.get("livebench_item_timeout") or DEFAULT_ITEM_TIMEOUT),
        )
        summary = _write_judgments(ctx, answered, outcomes)
        atomic_write_json(ctx.out_dir / SCORES, summary)
        if summary["errors"]:
            ctx.warn(f"livebench: {summary['errors']} answers could not be scored (see `error` in the judgment files); they are left out of the means")
        scores = [Score("overall", summary["overall"])]
        scores += [Score(f"category/{name}", value) for name, value in summary["categories"].items()]
        scores += [Score(f"task/{name}", row["score"]) for name, row in summary["tasks"].items()]
        scores.append(Score("scoring_errors", float(summary["errors"])))
        return scores


def _answered_questions(ctx: EvalContext, questions: dict[tuple[str, str], list[dict]]) -> dict[tuple[str, str], list[tuple[dict, dict]]]:
    """(question, answer) pairs per selected task found in `ctx.out_dir`; what cannot be matched
    is reported through `ctx.warn`."""
    answered: dict[tuple[str, str], list[tuple[dict, dict]]] = {}
    for path in sorted(ctx.out_dir.glob(f"*/*/{ANSWERS}")):
        category, task = path.parent.parent.name, path.parent.name
        if (category, task) not in questions:
            ctx.warn(f"livebench: {path} is not among the selected tasks/release; not scored")
            continue
        by_id = {str(row["question_id"]): row for row in questions[(category, task)]}
        # a question answered twice counts once, with its last answer (as officially)
        latest = {str(answer["question_id"]): answer for answer in read_jsonl(path)}
        pairs = [(by_id[qid], answer) for qid, answer in latest.items() if qid in by_id]
        outside = len(latest) - len(pairs)
        if outside:
            ctx.warn(f"livebench: {outside} answers in {path} are for questions outside release {_release_option(ctx.options)}; not scored")
        missing = len(by_id) - len(pairs)
        if missing:
            ctx.warn(f"livebench: {category}/{task} has no answer for {missing} of its {len(by_id)} selected questions")
        answered[(category, task)] = pairs
    if not answered:
        raise RayevalError(f"no LiveBench answers under {ctx.out_dir}; run `rayeval generate -b livebench` first")
    return answered


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


def _write_judgments(ctx: EvalContext, answered: dict[tuple[str, str], list[tuple[dict, dict]]], outcomes: dict) -> dict:
    """Write each task's `judgment.jsonl` and return the scores summary."""
    task_rows: dict[str, dict] = {}
    errors = 0
    for (category, task), pairs in sorted(answered.items()):
        judgments = []
        for question, answer in pairs:
            outcome = outcomes[f"{category}/{task}/{answer['question_id']}"]
            row = {
                "question_id": question["question_id"],
                "task": question["task"],
                "category": category,
                "model": ctx.model_id,
                "score": outcome.score,
                "answer_id": answer.get("answer_id"),
                "tstamp": time.time(),
            }
            if question.get("subtask"):
                row["subtask"] = question["subtask"]
            if outcome.error is not None:
                row["error"] = outcome.error
                errors += 1
            judgments.append(row)
        judgments.sort(key=lambda row: row["question_id"])
        atomic_write_jsonl(ctx.out_dir / category / task / JUDGMENTS, judgments)
        scored = [float(row["score"]) for row in judgments if row["score"] is not None]
        task_rows[task] = {
            "category": category,
            "score": 100 * mean(scored) if scored else None,
            "scored": len(scored),
            "errors": len(judgments) - len(scored),
        }
    categories: dict[str, float] = {}
    for category in sorted({row["category"] for row in task_rows.values()}):
        values = [row["score"] for row in task_rows.values() if row["category"] == category and row["score"] is not None]
        if values:
            categories[category] = mean(values)
    return {
        "model_id": ctx.model_id,
        "release": _release_option(ctx.options),
        "overall": mean(categories.values()) if categories else None,
        "categories": categories,
        "tasks": task_rows,
        "errors": errors,
    }


def _hub_category(data: DataSource, category: str) -> list[dict]:
    """All rows of hub dataset `livebench/<category>` (its test split, one parquet file)."""
    import pyarrow.parquet as pq

    path = data.find(f"livebench/{category}.parquet", HubFile(repo_id=f"livebench/{category}", filename="data/test-00000-of-00001.parquet"))
    return pq.read_table(path).to_pylist()


BENCHMARK = LiveBench()
