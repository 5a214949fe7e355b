"""The report's options (section `report`): which models are baselines, a single comparison,
and the experiment trackers a report (or a sweep, as its scores land) is logged to."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from rayeval.options import REPORT, REPORT_SWEEP, OptionsModel, comma_list, option


class ReportOptions(OptionsModel):
    """How `rayeval report` compares models and where else it logs them."""

    baselines: Annotated[list[str] | None, BeforeValidator(comma_list)] = option(
        None,
        description="Comma-separated model ids every checkpoint is compared with [default: the models that are not checkpoints of a run].",
        phases=REPORT,
    )
    compare: bool = option(
        False,
        description="Compare exactly two models (rayeval report --compare A B): the paired tests and the items that flipped.",
        phases=REPORT,
    )
    wandb_project: str | None = option(
        None,
        description="Log every model's metrics (step as the x-axis), run.json settings and the report files to this Weights & Biases project (needs the wandb extra; WANDB_MODE=offline works).",
        phases=REPORT_SWEEP,
    )
    mlflow_uri: str | None = option(
        None,
        description="Log the same to this MLflow tracking URI (e.g. file:./mlruns or http://host:5000; needs the mlflow extra).",
        phases=REPORT_SWEEP,
    )
