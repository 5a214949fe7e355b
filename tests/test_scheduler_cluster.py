"""Scheduler and placement on a simulated two-node GPU cluster (real Ray, logical GPUs).

`ray.cluster_utils.Cluster` starts a real head and two real raylets with 4 logical GPUs each on
this machine. The engines are light stand-ins (tests/standin_engine.py) because no real vLLM
can run on logical GPUs; everything else (placement groups, actors, scheduler, store) is real.
Reads ../shared/data for the IFEval prompts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

import standin_engine  # noqa: E402

from rayeval import benchmarks  # noqa: E402
from rayeval.config import EngineConfig, RunOptions, SamplingConfig  # noqa: E402
from rayeval.data import DataSource  # noqa: E402
from rayeval.engine.placement import EngineLayout  # noqa: E402
from rayeval.engine.pool import EnginePool  # noqa: E402
from rayeval.files import read_jsonl  # noqa: E402
from rayeval.generation import GenerateRequest, make_plan, run_generation  # noqa: E402
from rayeval.models import ModelSpec  # noqa: E402
from rayeval.scheduler import Scheduler, SilentProgress  # noqa: E402
from rayeval.settings import Settings  # noqa: E402
from rayeval.store import ResultStore  # noqa: E402

LIMIT = 96


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    sim = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0})
    workers = [sim.add_node(num_cpus=4, num_gpus=4) for _ in range(2)]
    sim.wait_for_nodes()
    ray.init(address=sim.address, logging_level="ERROR", log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(standin_engine)
    yield sim, workers
    ray.shutdown()
    sim.shutdown()


def request_for(models: list[ModelSpec], tp: int = 2) -> GenerateRequest:
    settings = Settings(run=RunOptions(limit=LIMIT, shard_size=8), sampling=SamplingConfig(max_tokens=8), engine=EngineConfig(tp_size=tp))
    return GenerateRequest(models=models, benchmarks=[benchmarks.get("ifeval")], settings=settings)


def checkpoints(n: int, broken: int | None = None) -> list[ModelSpec]:
    return [
        ModelSpec(id=f"run_checkpoint-{i}", path=f"/ckpt/{'broken' if i == broken else 'ok'}-{i}", run="run", step=i)
        for i in range(1, n + 1)
    ]


def assert_each_response_once(store: ResultStore, model: ModelSpec, data: DataSource) -> None:
    rows = read_jsonl(store.benchmark_dir(model.id, "ifeval") / "candidate_outputs.jsonl")
    inputs = read_jsonl(data.find("ifeval/input_data.jsonl"))[:LIMIT]
    assert [r["prompt"] for r in rows] == [i["prompt"] for i in inputs]
    assert [r["response"].split("|")[:2] for r in rows] == [[str(i["key"]), model.path] for i in inputs]


class KillOnce(SilentProgress):
    """Kills one engine actor after `after` results arrived: a real actor death mid-run."""

    def __init__(self, pool: EnginePool, after: int) -> None:
        self.pool, self.after, self.seen, self.killed = pool, after, 0, None

    def advance(self, model_id: str, done: int, completion_tokens: int) -> None:
        self.seen += done
        if self.killed is None and self.seen >= self.after:
            self.killed = self.pool.handles[0]
            ray.kill(self.killed.actor, no_restart=True)


def test_tp_groups_land_on_one_node_each(cluster) -> None:
    sim, workers = cluster
    pool = EnginePool(EngineLayout(num_engines=4, tp_size=2, use_gpu=True), EngineConfig(tp_size=2), standin_engine.sleepy_factory())
    try:
        handles = pool.start()
        seen = ray.get([h.actor.describe.remote() for h in handles])
        devices = set()
        for handle, info in zip(handles, seen):
            visible = info["visible_devices"].split(",")
            assert len(visible) == 2 and len(set(visible)) == 2, info
            assert info["node_id"] == handle.placement.node_id
            devices.update((info["node_id"], d) for d in visible)
        assert len(devices) == 8, "four tp-2 engines must own eight distinct GPUs"
        assert {info["node_id"] for info in seen} == {w.node_id for w in workers}
    finally:
        pool.shutdown()


def run_on_cluster(
    tmp_path: Path, shared_data: Path, models: list[ModelSpec], num_engines: int, seconds_per_request: float, progress=None, **pool_options
):
    """Run the scheduler over `models` on stand-in tp-2 engines; `progress(pool)` may build a sink."""
    request = request_for(models)
    store, data = ResultStore(tmp_path), DataSource(shared_data)
    layout = EngineLayout(num_engines=num_engines, tp_size=2, use_gpu=True)
    plan = make_plan(request, data, store, layout.num_engines)
    pool = EnginePool(layout, request.engine, standin_engine.sleepy_factory(seconds_per_request=seconds_per_request), **pool_options)
    pool.start()
    pool.wait_ready()  # time the scheduler, not actor start-up
    sink = progress(pool) if progress else None
    try:
        report = Scheduler(pool, store, request.sampling, progress=sink).run(plan)
    finally:
        pool.shutdown()
    for model in models:
        if model.id not in report.failed_models:
            assert_each_response_once(store, model, data)
    return report, sink


def test_engines_stay_busy_and_models_load_rarely(cluster, tmp_path: Path, shared_data: Path) -> None:
    models = checkpoints(4)
    report, _ = run_on_cluster(tmp_path, shared_data, models, num_engines=4, seconds_per_request=0.05)
    assert sorted(report.finished) == sorted((m.id, "ifeval") for m in models)
    assert len(report.shards_by_engine) == 4, "every engine must have worked"
    assert report.model_loads <= len(models) + 4, "affinity: few model loads"
    busy = (report.run_seconds + report.load_seconds) / (report.wall_seconds * 4)
    assert busy > 0.5, f"engines idle too much: busy fraction {busy:.2f}"


def test_killed_engine_still_yields_every_response_once(cluster, tmp_path: Path, shared_data: Path) -> None:
    report, killer = run_on_cluster(tmp_path, shared_data, checkpoints(3), 2, 0.02, progress=lambda pool: KillOnce(pool, after=40))
    assert killer.killed is not None
    assert report.engines_lost == 1 and report.shards_retried >= 1
    assert not report.failed_models and len(report.finished) == 3


def test_broken_checkpoint_does_not_sink_the_run(cluster, tmp_path: Path, shared_data: Path) -> None:
    models = checkpoints(3, broken=2)
    request = request_for(models)
    store, data = ResultStore(tmp_path), DataSource(shared_data)
    layout = EngineLayout(num_engines=2, tp_size=2, use_gpu=True)
    plan = make_plan(request, data, store, layout.num_engines)
    report = run_generation(request, plan, data, store, layout, SilentProgress(), standin_engine.sleepy_factory())
    assert list(report.failed_models) == ["run_checkpoint-2"]
    assert "not a valid model config" in report.failed_models["run_checkpoint-2"]
    for model in (models[0], models[2]):
        assert_each_response_once(store, model, data)
        manifest = json.loads((tmp_path / model.id / "run.json").read_text())
        assert manifest["benchmarks"]["ifeval"]["status"] == "complete" and manifest["error"] is None
        timing = manifest["generation"]["run_timing"]  # the bench's source for load vs generation time
        assert timing["scheduler_seconds"] == round(report.wall_seconds, 3) > 0
        assert timing["engine_loads"] == report.model_loads and timing["completion_tokens"] == report.completion_tokens
        assert manifest["generation"]["layout"] == {"num_engines": 2, "tp_size": 2, "gpu": True}, "merged, not replaced"
    broken = json.loads((tmp_path / "run_checkpoint-2" / "run.json").read_text())
    assert broken["benchmarks"]["ifeval"]["status"] == "failed" and "not a valid model config" in broken["error"]
    assert not (tmp_path / "run_checkpoint-2" / "ifeval" / "candidate_outputs.jsonl").exists()


class CrashAfter(SilentProgress):
    """Raises out of the scheduler after `after` shards: an interrupted run (e.g. Ctrl-C)."""

    def __init__(self, after: int) -> None:
        self.after, self.calls = after, 0

    def advance(self, model_id: str, done: int, completion_tokens: int) -> None:
        self.calls += 1
        if self.calls == self.after:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_without_redoing_shards(cluster, tmp_path: Path, shared_data: Path) -> None:
    models = checkpoints(1)
    request = request_for(models, tp=1)
    store, data = ResultStore(tmp_path), DataSource(shared_data)
    layout = EngineLayout(num_engines=1, tp_size=1, use_gpu=True)
    factory = standin_engine.sleepy_factory()
    with pytest.raises(KeyboardInterrupt):
        run_generation(request, make_plan(request, data, store, 1), data, store, layout, CrashAfter(5), factory)
    assert not (tmp_path / models[0].id / "ifeval" / "candidate_outputs.jsonl").exists()
    report = run_generation(request, make_plan(request, data, store, 1), data, store, layout, SilentProgress(), factory)
    assert report.shards_resumed == 5
    assert report.shards_run == LIMIT // 8 - 5
    assert_each_response_once(store, models[0], data)
    assert not list((tmp_path / models[0].id).rglob(".journal/*/*.json")), "journal is cleared once outputs exist"


class WatchedStore(ResultStore):
    """Notes, each time a shard is journaled, how many shards the engines hold: journaling and
    writing outputs are the driver's slow part of a shard."""

    scheduler: Scheduler

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.in_flight: list[int] = []

    def save_shard(self, model_id: str, benchmark: str, shard_id: str, results: list) -> None:
        self.in_flight.append(sum(self.scheduler.dispatch.in_flight(h.name) for h in self.scheduler.pool.handles))
        super().save_shard(model_id, benchmark, shard_id, results)


def test_a_freed_engine_gets_its_next_shard_before_the_finished_one_is_journaled(cluster, tmp_path: Path, shared_data: Path) -> None:
    """One engine, one model, 12 shards. A busy engine never queues its model's last pending shard
    (rayeval/dispatch.py, rule 3), so that shard goes out when the one before it ends: before that
    one's results are journaled, so the engine does not idle while the driver writes."""
    request = request_for(checkpoints(1), tp=1)
    store, data = WatchedStore(tmp_path), DataSource(shared_data)
    plan = make_plan(request, data, store, 1)
    pool = EnginePool(EngineLayout(num_engines=1, tp_size=1, use_gpu=True), request.engine, standin_engine.sleepy_factory())
    pool.start()
    try:
        store.scheduler = Scheduler(pool, store, request.sampling)
        report = store.scheduler.run(plan)
    finally:
        pool.shutdown()
    assert report.shards_run == LIMIT // 8
    assert [held > 0 for held in store.in_flight] == [True] * (LIMIT // 8 - 1) + [False], store.in_flight


def test_node_loss_mid_run_finishes_on_remaining_node(cluster, tmp_path: Path, shared_data: Path) -> None:
    """Runs last: it removes a node from the module's cluster."""
    sim, workers = cluster

    class RemoveNode(SilentProgress):
        removed = False

        def advance(self, model_id: str, done: int, completion_tokens: int) -> None:
            if not self.removed:
                self.removed = True
                sim.remove_node(workers[1])

    report, _ = run_on_cluster(tmp_path, shared_data, checkpoints(2), 4, 0.03, progress=lambda pool: RemoveNode(), replacement_timeout_s=3)
    assert report.engines_lost >= 1
    assert not report.failed_models and len(report.finished) == 2
