"""AlpacaEval 2's files: the eval set, the generation and result files both sides share."""

from __future__ import annotations

import json
from typing import Any

from rayeval.data import DataSource, HubFile

EVAL_SET = "alpacaeval/alpaca_eval.json"
EVAL_SET_HUB = HubFile(repo_id="tatsu-lab/alpaca_eval", filename="alpaca_eval_gpt4_baseline.json")
GAMED = "alpacaeval/df_gamed.csv"
GAMED_HUB = HubFile(repo_id="tatsu-lab/alpaca_eval", filename="df_gamed.csv")
MODEL_OUTPUTS = "model_outputs.json"
ANNOTATIONS = "annotations.json"
LEADERBOARD = "leaderboard.csv"
LEADERBOARD_COLUMNS = [
    "win_rate",
    "standard_error",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    "discrete_win_rate",
    "avg_length",
    "length_controlled_winrate",
    "lc_standard_error",
]


def load_eval_set(data: DataSource) -> list[dict[str, Any]]:
    """The 805 rows `{"instruction", "output" (baseline), "generator", "dataset"}` in order."""
    rows = json.loads(data.find(EVAL_SET, EVAL_SET_HUB).read_text(encoding="utf-8"))
    return [{k: row[k] for k in ("instruction", "output", "generator", "dataset")} for row in rows]
