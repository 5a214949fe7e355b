"""LiveBench scoring: every answer of a selected task against its question, in parallel workers
(see `spec` for the files and the means)."""

from __future__ import annotations

import os
import re
import time
from statistics import mean

from rayeval.benchmarks.base import EvalContext, Score
from rayeval.benchmarks.livebench.files import ANSWERS, JUDGMENTS, SCORES
from rayeval.benchmarks.livebench.options import LiveBenchOptions
from rayeval.benchmarks.livebench.pool import Job, score_jobs
from rayeval.benchmarks.livebench.questions import load_questions
from rayeval.benchmarks.livebench.tasks import scorer_spec
from rayeval.errors import RayevalError
from rayeval.files import atomic_write_json, atomic_write_jsonl, read_jsonl

MAX_DEFAULT_WORKERS = 8
"""A cap on the default worker count, so a big node does not fork dozens of ~200 MB workers."""
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def strip_thinking(text: str) -> str:
    """Remove complete `<think>...</think>` spans (an unclosed one stays, as officially)."""
    return _THINK.sub("", text)


def default_workers() -> int:
    """Scoring processes when option `workers` is not set: the usable cores, at most 8."""
    return min(MAX_DEFAULT_WORKERS, len(os.sched_getaffinity(0)))


def evaluate_livebench(ctx: EvalContext[LiveBenchOptions]) -> list[Score]:
    """Score every answer of the selected tasks, write the judgment files and `scores.json`."""

    answered = _answered_questions(ctx, load_questions(ctx.data, ctx.options))
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
        workers=ctx.options.workers or default_workers(),
        timeout=ctx.options.item_timeout,
    )
    summary = _write_judgments(ctx, answered, outcomes)
    atomic_write_json(ctx.out_dir / SCORES, summary)
    if summary["errors"]:
        ctx.warn(
            f"livebench: {summary['errors']} answers could not be scored (see `error` in the judgment files); they are left out of the means"
        )
    scores = [Score("overall", summary["overall"])]
    scores += [Score(f"category/{name}", value) for name, value in summary["categories"].items()]
    scores += [Score(f"task/{name}", row["score"]) for name, row in summary["tasks"].items()]
    scores.append(Score("scoring_errors", float(summary["errors"])))
    return scores


def _answered_questions(
    ctx: EvalContext[LiveBenchOptions], questions: dict[tuple[str, str], list[dict]]
) -> dict[tuple[str, str], list[tuple[dict, dict]]]:
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
            ctx.warn(f"livebench: {outside} answers in {path} are for questions outside release {ctx.options.release}; not scored")
        missing = len(by_id) - len(pairs)
        if missing:
            ctx.warn(f"livebench: {category}/{task} has no answer for {missing} of its {len(by_id)} selected questions")
        answered[(category, task)] = pairs
    if not answered:
        raise RayevalError(f"no LiveBench answers under {ctx.out_dir}; run `rayeval generate -b livebench` first")
    return answered


def _write_judgments(ctx: EvalContext[LiveBenchOptions], answered: dict[tuple[str, str], list[tuple[dict, dict]]], outcomes: dict) -> dict:
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
        "release": ctx.options.release,
        "overall": mean(categories.values()) if categories else None,
        "categories": categories,
        "tasks": task_rows,
        "errors": errors,
    }
