"""Experiment trackers: every reported model's metrics, its run settings (`run.json`) and the
report files, logged to Weights & Biases and/or MLflow.

A training run is one tracker run (named after it) whose checkpoints are logged at their step,
so the tracker plots them over steps; every other model (base, API, final) is a tracker run of
its own; the report folder is logged as an artifact of a run named `rayeval-report`. Each
tracker sits behind the `Tracker` protocol and is opened by a factory in `TRACKERS`, which
imports its library only then (the `wandb` and `mlflow` extras are optional).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from rayeval.errors import RayevalError
from rayeval.report.collect import ReportData, ReportModel
from rayeval.report.options import ReportOptions

REPORT_RUN = "rayeval-report"
SETTINGS_SECTIONS = ("model", "sampling", "engine")
"""The parts of run.json logged as settings (the rest, data hashes and times, is provenance)."""


class Tracker(Protocol):
    def start(self, name: str, settings: dict[str, Any]) -> None:
        """Open a tracker run named `name` with these settings (flat keys)."""

    def log(self, metrics: dict[str, float], step: int | None) -> None:
        """Metrics of one model, at its training step (None: a model outside any run)."""

    def artifact(self, folder: Path) -> None:
        """The report files, in the open run."""

    def finish(self) -> None:
        """Close the open run."""


class WandbTracker:
    """Weights & Biases (`WANDB_MODE=offline` writes runs under `./wandb/` without a login)."""

    def __init__(self, project: str) -> None:
        try:
            import wandb
        except ImportError:
            raise RayevalError("the W&B tracker needs the wandb package: pip install 'rayeval[wandb]'") from None
        self.wandb = wandb
        self.project = project
        self.run: Any = None

    def start(self, name: str, settings: dict[str, Any]) -> None:
        # No system metadata: it holds the process's command line, which may carry --judge-api-key.
        no_meta = self.wandb.Settings(x_disable_meta=True)
        self.run = self.wandb.init(project=self.project, name=name, config=settings, reinit="create_new", settings=no_meta)

    def log(self, metrics: dict[str, float], step: int | None) -> None:
        self.run.log(metrics, step=step or 0)

    def artifact(self, folder: Path) -> None:
        art = self.wandb.Artifact(REPORT_RUN, type="report")
        art.add_dir(str(folder))
        self.run.log_artifact(art)

    def finish(self) -> None:
        self.run.finish()


class MlflowTracker:
    """MLflow, any tracking URI (`file:./mlruns` is a local file store)."""

    EXPERIMENT = "rayeval"

    def __init__(self, uri: str) -> None:
        try:
            import mlflow
        except ImportError:
            raise RayevalError("the MLflow tracker needs the mlflow-skinny package: pip install 'rayeval[mlflow]'") from None
        self.mlflow = mlflow
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(self.EXPERIMENT)

    def start(self, name: str, settings: dict[str, Any]) -> None:
        self.mlflow.start_run(run_name=name)
        if settings:
            self.mlflow.log_params({key: str(value) for key, value in settings.items()})

    def log(self, metrics: dict[str, float], step: int | None) -> None:
        self.mlflow.log_metrics(metrics, step=step or 0)

    def artifact(self, folder: Path) -> None:
        self.mlflow.log_artifacts(str(folder), artifact_path="report")

    def finish(self) -> None:
        self.mlflow.end_run()


TrackerFactory = Callable[[str], Tracker]
TRACKERS: dict[str, tuple[str, TrackerFactory]] = {
    "wandb_project": ("W&B", WandbTracker),
    "mlflow_uri": ("MLflow", MlflowTracker),
}
"""Option field → (name, factory taking the option's value)."""


def flat_settings(manifest: dict[str, Any]) -> dict[str, Any]:
    """`model.path`, `sampling.temperature`, ... from run.json (scalars only)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        elif value is not None and not isinstance(value, list):
            flat[prefix] = value

    for section in SETTINGS_SECTIONS:
        walk(section, manifest.get(section))
    return flat


def _metrics(data: ReportData, model: ReportModel) -> dict[str, float]:
    return {
        f"{b}/{metric}": row["value"]
        for (m, b, metric), row in data.rows.items()
        if m == model.id and isinstance(row.get("value"), (int, float))
    }


def log_to_trackers(data: ReportData, options: ReportOptions, report_dir: Path) -> list[str]:
    """Log the report to every tracker the options name; returns the trackers' names."""
    used = []
    for field_name, (name, factory) in TRACKERS.items():
        target = getattr(options, field_name)
        if target is None:
            continue
        tracker = factory(target)
        for run_name, models in _tracker_runs(data).items():
            tracker.start(run_name, flat_settings(models[0].manifest))
            for model in models:
                tracker.log(_metrics(data, model), model.step)
            tracker.finish()
        tracker.start(REPORT_RUN, {})
        tracker.artifact(report_dir)
        tracker.finish()
        used.append(name)
    return used


def _tracker_runs(data: ReportData) -> dict[str, list[ReportModel]]:
    runs: dict[str, list[ReportModel]] = {}
    for model in data.models:
        runs.setdefault(model.run if model.kind == "checkpoint" and model.run else model.id, []).append(model)
    return {name: sorted(models, key=lambda m: m.step or 0) for name, models in runs.items()}
