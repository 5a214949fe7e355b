"""TruthfulQA's options, declared once (see `rayeval.options`)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from rayeval.options import ALL_PHASES, EVALUATE, GENERATE, OptionsModel, option, option_ref


class TruthfulQAOptions(OptionsModel):
    """Which TruthfulQA data, whether to score multiple choice, and the optional end-to-end judges."""

    version: Literal["2025", "2022"] = option(
        "2025", description="2025: the current 790-question CSV (packaged); 2022: the 817-question hub dataset.", phases=ALL_PHASES
    )
    mc: bool = option(
        True,
        description="Also score MC1/MC2/binary by log-likelihood (1.35M prompt tokens: minutes on a GPU, hours on a CPU).",
        phases=GENERATE,
    )
    judge: str | None = option(
        None,
        description="GPT-judge (truthfulness): a completion model for the paper's 'True:' format, e.g. "
        "allenai/truthfulqa-truth-judge-llama2-7B; served in-cluster unless its endpoint is given [default: off].",
        phases=EVALUATE,
    )
    judge_api_base: str | None = option(None, description="OpenAI-compatible endpoint serving the GPT-judge model.", phases=EVALUATE)
    info_judge: str | None = option(
        None,
        description="GPT-info (informativeness): a completion model for the 'Helpful:' format, e.g. "
        "allenai/truthfulqa-info-judge-llama2-7B; served in-cluster unless its endpoint is given [default: off].",
        phases=EVALUATE,
    )
    info_judge_api_base: str | None = option(None, description="OpenAI-compatible endpoint serving the GPT-info model.", phases=EVALUATE)

    @model_validator(mode="after")
    def _endpoint_needs_model(self) -> TruthfulQAOptions:
        for name in ("judge", "info_judge"):
            if getattr(self, f"{name}_api_base") and not getattr(self, name):
                raise ValueError(
                    f"{option_ref(f'truthfulqa.{name}_api_base')} needs {option_ref(f'truthfulqa.{name}')} MODEL (the judge model that endpoint serves)"
                )
        return self
