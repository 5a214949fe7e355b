"""LiveBench tasks: the official task names, each under its category, and each one's scorer.

Every task scorer has the signature ``(question: dict, llm_answer: str) -> float``: `question` is
the row of the task's `question.jsonl`, `llm_answer` the model's last turn with reasoning
``<think>...</think>`` spans already removed. A scorer raises to signal that scoring failed (the
caller records it as an error, never as a silent 0).

The registry (`rayeval.registry`) maps ``"category/task"`` to a ``"module:function"`` string, so
importing it stays cheap: a task's module (sympy for math, the sandbox for coding) is imported only
when that task is scored. Packages add tasks through the `rayeval.livebench_tasks` entry-point
group under the same kind of name.
"""

from __future__ import annotations

from collections.abc import Callable

from rayeval.registry import Registry

TaskScorer = Callable[[dict, str], float]
ENTRY_POINT_GROUP = "rayeval.livebench_tasks"

TASKS: Registry[TaskScorer] = Registry(
    "LiveBench task",
    {
        # Categories and their tasks in alphabetical order: the order questions are loaded, requests
        # built and files written in (it is hashed into shard ids, so it must not change).
        # coding
        "coding/LCB_generation": "rayeval.benchmarks.livebench.scorers.coding:score_lcb_generation",
        "coding/coding_completion": "rayeval.benchmarks.livebench.scorers.coding:score_coding_completion",
        # data_analysis
        "data_analysis/cta": "rayeval.benchmarks.livebench.scorers.data_analysis:score_cta",
        "data_analysis/tablejoin": "rayeval.benchmarks.livebench.scorers.data_analysis:score_tablejoin",
        "data_analysis/tablereformat": "rayeval.benchmarks.livebench.scorers.table_reformat:score_tablereformat",
        # instruction_following
        "instruction_following/paraphrase": "rayeval.benchmarks.livebench.scorers.instruction_following:score_instruction_following",
        "instruction_following/simplify": "rayeval.benchmarks.livebench.scorers.instruction_following:score_instruction_following",
        "instruction_following/story_generation": "rayeval.benchmarks.livebench.scorers.instruction_following:score_instruction_following",
        "instruction_following/summarize": "rayeval.benchmarks.livebench.scorers.instruction_following:score_instruction_following",
        # language
        "language/connections": "rayeval.benchmarks.livebench.scorers.language:score_connections",
        "language/plot_unscrambling": "rayeval.benchmarks.livebench.scorers.language:score_plot_unscrambling",
        "language/typos": "rayeval.benchmarks.livebench.scorers.language:score_typos",
        # math
        "math/AMPS_Hard": "rayeval.benchmarks.livebench.scorers.amps_hard:score_amps_hard",
        "math/math_comp": "rayeval.benchmarks.livebench.scorers.math:score_competition",
        "math/olympiad": "rayeval.benchmarks.livebench.scorers.math:score_competition",
        # reasoning
        "reasoning/spatial": "rayeval.benchmarks.livebench.scorers.reasoning:score_spatial",
        "reasoning/web_of_lies_v2": "rayeval.benchmarks.livebench.scorers.reasoning:score_web_of_lies",
        "reasoning/zebra_puzzle": "rayeval.benchmarks.livebench.scorers.reasoning:score_zebra_puzzle",
    },
    entry_point_group=ENTRY_POINT_GROUP,
)


def task_categories() -> dict[str, str]:
    """Every registered task name → its category, in registry order."""
    return {name.partition("/")[2]: name.partition("/")[0] for name in TASKS.names()}


def categories() -> dict[str, list[str]]:
    """Every category → its task names, in registry order."""
    found: dict[str, list[str]] = {}
    for task, category in task_categories().items():
        found.setdefault(category, []).append(task)
    return found


def scorer_spec(task: str) -> str:
    """The "module:function" of task `task`'s scorer (what a scoring worker imports); KeyError for
    a task LiveBench does not define."""
    category = task_categories()[task]
    return TASKS.target(f"{category}/{task}")


def scorer_for(task: str) -> TaskScorer:
    """The scorer of task `task`; KeyError for a task LiveBench does not define."""
    category = task_categories()[task]
    return TASKS.get(f"{category}/{task}")
