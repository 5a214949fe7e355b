"""`rayeval sweep` on real Ray: generation on stand-in engines (tests/standin_engine.py, so the
timing is controlled and no vLLM start-up dominates), real scoring tasks, real result files.
The real-vLLM sweep is in tests/test_e2e_vllm.py. Reads ../shared/data for the IFEval prompts."""

from __future__ import annotations

import json
from pathlib import Path

from rayeval import benchmarks
from rayeval.config import RunOptions, SamplingConfig
from rayeval.data import DataSource
from rayeval.engine.placement import EngineLayout
from rayeval.generation import GenerateRequest
from rayeval.models import ModelSpec
from rayeval.scheduler import SilentProgress
from rayeval.settings import Settings
from rayeval.store import ResultStore
from rayeval.sweep import plan_sweep, run_sweep

LIMIT = 24


def checkpoints(n: int, broken: int | None = None) -> list[ModelSpec]:
    return [
        ModelSpec(id=f"run_checkpoint-{i}", path=f"/ckpt/{'broken' if i == broken else 'ok'}-{i}", run="run", step=i)
        for i in range(1, n + 1)
    ]


def sweep(tmp_path: Path, shared_data: Path, models: list[ModelSpec], standin, seconds_per_request: float = 0.05):
    settings = Settings(run=RunOptions(limit=LIMIT, shard_size=8, data_dir=shared_data), sampling=SamplingConfig(max_tokens=8))
    request = GenerateRequest(models=models, benchmarks=[benchmarks.get("ifeval")], settings=settings)
    store, data = ResultStore(tmp_path), DataSource(shared_data)
    layout = EngineLayout(num_engines=1, tp_size=1, use_gpu=False)
    plan = plan_sweep(request, data, store, layout)
    report = run_sweep(
        request, plan, data, store, layout, SilentProgress(), standin.sleepy_factory(seconds_per_request=seconds_per_request)
    )
    return report, store


def summary(store: ResultStore, model_id: str) -> dict[str, float]:
    return {row["metric"]: row["value"] for row in store.read_scores(model_id)}


def test_scoring_starts_while_later_checkpoints_still_generate(standin_ray, tmp_path: Path, shared_data: Path) -> None:
    models = checkpoints(3)
    report, store = sweep(tmp_path, shared_data, models, standin_ray)
    assert not report.failures()
    first_scored = report.scoring_started_at[(models[0].id, "ifeval")]
    last_written = (tmp_path / models[-1].id / "ifeval" / "candidate_outputs.jsonl").stat().st_mtime
    assert first_scored < last_written, "the first checkpoint was scored only after the last one finished generating"
    for model in models:
        scores = summary(store, model.id)
        assert set(scores) >= {"prompt_level_strict_acc", "inst_level_loose_acc"}
        metrics = json.loads((tmp_path / model.id / "ifeval" / "metrics.json").read_text())
        assert metrics["prompts"] == LIMIT
    page = store.report_file("report.html").read_text()
    assert all(model.id in page for model in models), "the sweep's report does not show every checkpoint"


def test_a_broken_checkpoint_is_reported_and_the_others_finish(standin_ray, tmp_path: Path, shared_data: Path) -> None:
    models = checkpoints(3, broken=2)
    report, store = sweep(tmp_path, shared_data, models, standin_ray, seconds_per_request=0.01)
    failures = report.failures()
    assert [(model_id, what) for model_id, what, _ in failures] == [("run_checkpoint-2", "generation")]
    assert "not a valid model config" in failures[0][2]
    for model in (models[0], models[2]):
        assert "prompt_level_strict_acc" in summary(store, model.id)
    assert not store.scores_path("run_checkpoint-2").exists()


def test_a_rerun_redoes_only_what_is_missing(standin_ray, tmp_path: Path, shared_data: Path) -> None:
    models = checkpoints(2)
    sweep(tmp_path, shared_data, models, standin_ray, seconds_per_request=0.01)
    outputs = tmp_path / models[0].id / "ifeval" / "candidate_outputs.jsonl"
    before = outputs.read_bytes(), outputs.stat().st_mtime_ns
    store = ResultStore(tmp_path)
    store.scores_path(models[1].id).unlink()  # as if the first run died before scoring model 2
    report, store = sweep(tmp_path, shared_data, models, standin_ray, seconds_per_request=0.01)
    assert report.generation.shards_run == 0, "generation was redone"
    assert (outputs.read_bytes(), outputs.stat().st_mtime_ns) == before
    assert {(o.model_id, o.benchmark) for o in report.outcomes} == {(m.id, "ifeval") for m in models}
    assert "prompt_level_strict_acc" in summary(store, models[1].id)


def test_pairs_that_need_an_in_cluster_judge_are_held_until_released(standin_ray, tmp_path: Path, shared_data: Path) -> None:
    """Without GPUs left for an in-cluster judge, a sweep holds judged scoring until generation
    is over (`run_sweep` releases it). No generation files exist here, so each task fails at
    once: what is checked is when each pair is submitted."""
    from rayeval.evaluation import EvaluationRunner
    from rayeval.judge.config import JudgeConfig

    alpaca, ifeval = benchmarks.get("alpacaeval"), benchmarks.get("ifeval")
    in_cluster = Settings(run=RunOptions(data_dir=shared_data), judge=JudgeConfig(model="/judges/local-model"))
    runner = EvaluationRunner(ResultStore(tmp_path), in_cluster, hold_in_cluster_judging=True)
    runner.submit("m", alpaca)
    runner.submit("m", ifeval)
    assert runner.held == [("m", alpaca)] and set(runner.started_at) == {("m", "ifeval")}
    runner.release_held()
    assert set(runner.started_at) == {("m", "ifeval"), ("m", "alpacaeval")} and not runner.held
    assert {o.benchmark for o in runner.drain()} == {"ifeval", "alpacaeval"}

    endpoint = Settings(run=RunOptions(data_dir=shared_data), judge=JudgeConfig(model="judge", api_base="http://127.0.0.1:9/v1"))
    runner = EvaluationRunner(ResultStore(tmp_path), endpoint, hold_in_cluster_judging=True)
    runner.submit("m", alpaca)
    assert not runner.held and ("m", "alpacaeval") in runner.started_at, "an endpoint judge needs no cluster resources"
    runner.drain()
