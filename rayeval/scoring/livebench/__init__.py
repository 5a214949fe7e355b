"""LiveBench ground-truth scorers, one per official task name.

Every task scorer has the signature ``(question: dict, llm_answer: str) -> float``: `question` is
the row of the task's `question.jsonl`, `llm_answer` the model's last turn with reasoning
``<think>...</think>`` spans already removed. A scorer raises to signal that scoring failed (the
caller records it as an error, never as a silent 0).

The registry maps task names to ``"module:function"`` strings so that importing it stays cheap:
a task's module (sympy for math, the sandbox for coding) is imported only when that task is scored.
"""

from __future__ import annotations

import importlib
from typing import Callable

TaskScorer = Callable[[dict, str], float]

_TASKS: dict[str, str] = {
    # math
    "math_comp": "rayeval.scoring.livebench.math:score_competition",
    "AMPS_Hard": "rayeval.scoring.livebench.amps_hard:score_amps_hard",
    "olympiad": "rayeval.scoring.livebench.math:score_competition",
    # reasoning
    "web_of_lies_v2": "rayeval.scoring.livebench.reasoning:score_web_of_lies",
    "zebra_puzzle": "rayeval.scoring.livebench.reasoning:score_zebra_puzzle",
    "spatial": "rayeval.scoring.livebench.reasoning:score_spatial",
    # data_analysis
    "cta": "rayeval.scoring.livebench.data_analysis:score_cta",
    "tablejoin": "rayeval.scoring.livebench.data_analysis:score_tablejoin",
    "tablereformat": "rayeval.scoring.livebench.table_reformat:score_tablereformat",
    # language
    "connections": "rayeval.scoring.livebench.language:score_connections",
    "typos": "rayeval.scoring.livebench.language:score_typos",
    "plot_unscrambling": "rayeval.scoring.livebench.language:score_plot_unscrambling",
    # coding
    "LCB_generation": "rayeval.scoring.livebench.coding:score_lcb_generation",
    "coding_completion": "rayeval.scoring.livebench.coding:score_coding_completion",
    # instruction_following
    "paraphrase": "rayeval.scoring.livebench.instruction_following:score_instruction_following",
    "simplify": "rayeval.scoring.livebench.instruction_following:score_instruction_following",
    "story_generation": "rayeval.scoring.livebench.instruction_following:score_instruction_following",
    "summarize": "rayeval.scoring.livebench.instruction_following:score_instruction_following",
}

TASK_NAMES: tuple[str, ...] = tuple(_TASKS)


def scorer_spec(task: str) -> str:
    """The "module:function" of official task `task`'s scorer; KeyError for an unknown task."""
    return _TASKS[task]


def resolve(spec: str) -> TaskScorer:
    """Import the scorer named by a "module:function" spec."""
    module_name, _, function_name = spec.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def scorer_for(task: str) -> TaskScorer:
    """The scorer of official task `task`; KeyError for a task LiveBench does not define."""
    return resolve(scorer_spec(task))
