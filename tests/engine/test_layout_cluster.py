"""Engine layout and engines joining late, on a simulated cluster of two 6-GPU nodes.

`ray.cluster_utils.Cluster` runs a real head and real raylets with logical GPUs on this machine;
the engines are light stand-ins (tests/standin_engine.py) because no vLLM runs on logical GPUs.
Placement groups, actors, the scheduler and the store are real. Reads ../shared/data (IFEval).
"""

from __future__ import annotations

from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

import standin_engine  # noqa: E402

from rayeval import benchmarks  # noqa: E402
from rayeval.config import EngineConfig, RunOptions, SamplingConfig  # noqa: E402
from rayeval.data import DataSource  # noqa: E402
from rayeval.engine.placement import choose_layout, cluster_node_gpus  # noqa: E402
from rayeval.engine.pool import EnginePool  # noqa: E402
from rayeval.errors import RayevalError  # noqa: E402
from rayeval.generation import GenerateRequest, make_plan  # noqa: E402
from rayeval.models import ModelSpec  # noqa: E402
from rayeval.scheduler import Scheduler, SilentProgress  # noqa: E402
from rayeval.settings import Settings  # noqa: E402
from rayeval.store import ResultStore  # noqa: E402

TP4 = EngineConfig(tp_size=4)


@pytest.fixture(scope="module")
def six_gpu_nodes():
    from ray.cluster_utils import Cluster

    sim = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0})
    for _ in range(2):
        sim.add_node(num_cpus=2, num_gpus=6)
    sim.wait_for_nodes()
    ray.init(address=sim.address, logging_level="ERROR", log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(standin_engine)
    yield sim
    ray.shutdown()
    sim.shutdown()


def test_two_six_gpu_nodes_plan_and_start_two_tp4_engines(six_gpu_nodes) -> None:
    layout = choose_layout(TP4, None, cluster_node_gpus())
    assert (layout.num_engines, layout.tp_size, layout.use_gpu) == (2, 4, True)
    pool = EnginePool(layout, TP4, standin_engine.sleepy_factory())
    try:
        handles = pool.start()
        assert len(handles) == 2 and not pool.pending
        assert len({h.placement.node_id for h in handles}) == 2, "each engine sits on its own node"
        assert all(len(set(h.placement.gpu_ids)) == 4 for h in handles)
    finally:
        pool.shutdown()


def test_three_tp4_engines_are_refused_before_anything_starts(six_gpu_nodes) -> None:
    with pytest.raises(RayevalError, match=r"num_engines.* 3 .*does not fit.*GPUs per node: 6, 6"):
        choose_layout(TP4, 3, cluster_node_gpus())


def checkpoints(n: int) -> list[ModelSpec]:
    return [ModelSpec(id=f"run_checkpoint-{i}", path=f"/ckpt/ok-{i}", run="run", step=i) for i in range(1, n + 1)]


class AddNodeOnFirstResult(SilentProgress):
    """Adds a 4-GPU node when the first results arrive: the autoscaler bringing a node up mid-run."""

    def __init__(self, sim) -> None:
        self.sim, self.node, self.joined = sim, None, []

    def advance(self, model_id: str, done: int, completion_tokens: int) -> None:
        if self.node is None:
            self.node = self.sim.add_node(num_cpus=2, num_gpus=4)

    def note(self, message: str) -> None:
        if message.endswith("joined"):
            self.joined.append(message)


def run_autoscaled(sim, tmp_path: Path, shared_data: Path, progress: SilentProgress):
    settings = Settings(run=RunOptions(limit=96, shard_size=8), sampling=SamplingConfig(max_tokens=8), engine=TP4)
    models = checkpoints(3)
    request = GenerateRequest(models=models, benchmarks=[benchmarks.get("ifeval")], settings=settings)
    layout = choose_layout(TP4, 3, cluster_node_gpus(), autoscaling=True)
    assert layout.num_engines == 3 and layout.autoscaling
    store, data = ResultStore(tmp_path), DataSource(shared_data)
    pool = EnginePool(layout, TP4, standin_engine.sleepy_factory(seconds_per_request=0.05))
    try:
        assert len(pool.start()) == 2 and len(pool.pending) == 1, "start returns with the engines that fit today"
        report = Scheduler(pool, store, settings.sampling, progress=progress).run(make_plan(request, data, store, 3))
    finally:
        pool.shutdown()
    assert not pool.pending, "a pending request is withdrawn when the run ends"
    assert not report.failed_models and sorted(report.finished) == sorted((m.id, "ifeval") for m in models)
    return report


def test_a_pending_engine_never_blocks_the_run(six_gpu_nodes, tmp_path: Path, shared_data: Path) -> None:
    report = run_autoscaled(six_gpu_nodes, tmp_path, shared_data, SilentProgress())
    assert set(report.shards_by_engine) == {"engine-1", "engine-2"}


def test_an_engine_joins_when_its_node_arrives(six_gpu_nodes, tmp_path: Path, shared_data: Path) -> None:
    """Runs last: it adds a node to the module's cluster."""
    progress = AddNodeOnFirstResult(six_gpu_nodes)
    report = run_autoscaled(six_gpu_nodes, tmp_path, shared_data, progress)
    assert progress.joined == ["engine-3 joined"]
    assert report.shards_by_engine.get("engine-3", 0) >= 1, f"the late engine took no work: {report.shards_by_engine}"
