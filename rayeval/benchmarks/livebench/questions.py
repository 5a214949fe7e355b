"""LiveBench questions: from `--data-dir` or the hub, normalised dates, release and task selection."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from rayeval.benchmarks.livebench.options import LiveBenchOptions
from rayeval.benchmarks.livebench.tasks import categories
from rayeval.data import DataSource, HubFile
from rayeval.errors import RayevalError
from rayeval.files import read_jsonl
from rayeval.options import option_ref


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
    by_category = categories()
    pairs = [(category, task) for category, tasks in by_category.items() for task in tasks]
    if wanted is None:
        return pairs
    unknown = set(wanted) - set(by_category) - {task for _, task in pairs}
    if unknown:
        raise RayevalError(
            f"unknown LiveBench task or category {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(list(by_category) + [task for _, task in pairs])}"
        )
    return [(category, task) for category, task in pairs if category in wanted or task in wanted]


def load_questions(data: DataSource, options: LiveBenchOptions) -> dict[tuple[str, str], list[dict]]:
    """Selected questions by (category, task), in file order; tasks without data are left out
    (an explicitly requested task without data is an error)."""
    release = options.release
    wanted = options.tasks
    selected: dict[tuple[str, str], list[dict]] = {}
    hub_rows: dict[str, list[dict]] = {}
    for category, task in selected_tasks(wanted):
        rows = _task_rows(data, category, task, wanted is not None and task in wanted, hub_rows)
        if rows is None:
            continue
        kept = [row for row in rows if in_release(row, release)]
        if kept:
            selected[(category, task)] = kept
    if not selected:
        raise RayevalError(
            f"no LiveBench questions for release {release} and tasks {wanted or 'all'}; check {option_ref('run.data_dir')} and {option_ref('livebench.tasks')}"
        )
    return selected


def _task_rows(data: DataSource, category: str, task: str, explicit: bool, hub_rows: dict[str, list[dict]]) -> list[dict] | None:
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


def _hub_category(data: DataSource, category: str) -> list[dict]:
    """All rows of hub dataset `livebench/<category>` (its test split, one parquet file)."""
    import pyarrow.parquet as pq

    path = data.find(f"livebench/{category}.parquet", HubFile(repo_id=f"livebench/{category}", filename="data/test-00000-of-00001.parquet"))
    return pq.read_table(path).to_pylist()
