"""AlpacaEval 2's per-item scores for the report, from `annotations.json`.

An item is one instruction (its id a hash of the instruction text, the same for every model);
its win-rate value is alpaca_eval's: preference − 1 (0 = baseline wins, 1 = model wins, a draw
0.5), and its discrete value rounds that to 0, 0.5 or 1. Records without a preference (failed or
unparsable judgements) are out, as alpaca_eval leaves them out of the counts. The
length-controlled win rate comes from a fitted GLM, not a mean of items: it has none.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from rayeval.benchmarks.alpacaeval.files import ANNOTATIONS
from rayeval.benchmarks.base import MetricItems

_DRAW = 1.5
"""alpaca_eval's draw; a preference of 0 is an older encoding of the same."""


def alpacaeval_item_scores(out_dir: Path) -> dict[str, MetricItems]:
    path = out_dir / ANNOTATIONS
    if not path.is_file():
        return {}
    win: dict[str, float] = {}
    discrete: dict[str, float] = {}
    for record in json.loads(path.read_text(encoding="utf-8")):
        preference = _preference(record.get("preference"))
        if preference is None:
            continue
        item_id = hashlib.sha256(record["instruction"].encode("utf-8")).hexdigest()[:12]
        win[item_id] = preference - 1
        discrete[item_id] = 0.5 if preference == _DRAW else float(round(preference) - 1)
    return {"win_rate": MetricItems(win), "discrete_win_rate": MetricItems(discrete)}


def _preference(value: Any) -> float | None:
    """The preference as alpaca_eval counts it (1..2, a draw 1.5), or None when it is not one."""
    if value is None:
        return None
    preference = float(value)
    if preference == 0:
        return _DRAW
    return preference if not math.isnan(preference) and 1 <= preference <= 2 else None
