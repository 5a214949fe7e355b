"""AlpacaEval 2's options, declared once (see `rayeval.options`). The judge's own settings are the
shared `judge.*` options (`rayeval.judge.config`)."""

from __future__ import annotations

from rayeval.options import EVALUATE, OptionsModel, option


class AlpacaEvalOptions(OptionsModel):
    """Which alpaca_eval annotator judges the pairs."""

    annotator: str = option(
        "weighted_alpaca_eval_gpt4_turbo",
        description="alpaca_eval annotator config (the leaderboard's is weighted_alpaca_eval_gpt4_turbo).",
        phases=EVALUATE,
    )
