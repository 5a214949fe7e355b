"""A worker node lost mid-run, on real vLLM: `rayeval generate --num-engines 2 --address ...` (the
real command line, as a subprocess) on a simulated two-node Ray cluster, one real vLLM engine (CPU
build, the real SmolLM2 instruct model) per node, and one node removed while its engine runs a
shard. Nothing is a stand-in.

`ray.cluster_utils.Cluster` runs a real head and two real raylets on this machine; the head has no
CPU, each worker one, so each node holds exactly one CPU engine (`--tp-size 1`: one CPU) and the
lost engine's replacement finds no room: the run must finish on the surviving node. Removing a
node kills its raylet; the engine actor is the raylet's child, so the node's processes are the
raylet's descendants. The node removed is that of an engine that has finished a shard (Ray's
state API says which), so it dies generating, not loading its model.

The command and the uninterrupted reference run are tests/generate_runs.py's, shared with
tests/test_faults_vllm.py. Slow: ~70 s here (the two engines load at once: ~50 s), plus ~55 s
for the reference when no other file made it first.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from generate_runs import LIMIT, SHARDS, alive, engine_core, generating, psutil, title, uninterrupted_outputs

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow

NODE_GONE_S = 30.0
"""How long the removed node's processes may take to exit once its raylet is gone (the worker
notices its raylet's death at once; vLLM's engine core then sees its parent go)."""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The outputs of the same command run without a fault on one engine of its own local Ray
    (greedy: the reference); module-scoped, so it is made before the cluster starts."""
    return uninterrupted_outputs(tmp_path_factory)


@pytest.fixture
def two_nodes() -> Iterator[tuple[Any, list[Any]]]:
    """A head without CPUs and two workers with one CPU each: room for one CPU engine per node."""
    from ray._common.utils import reset_ray_address
    from ray.cluster_utils import Cluster

    sim = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    # The head writes its address to /tmp/ray/ray_current_cluster, where any driver on this
    # machine started without an address (`ray.init()`, `rayeval generate` without --address)
    # would find it and join this cluster instead of starting its own: take it back.
    reset_ray_address()
    workers = [sim.add_node(num_cpus=1) for _ in range(2)]
    sim.wait_for_nodes()
    assert sim.webui_url, "the head's dashboard serves Ray's state API (`finished_a_shard`)"
    yield sim, workers
    sim.shutdown()


def raylet_pid(node: Any) -> int:
    return node.all_processes["raylet"][0].process.pid


def finished_a_shard(sim: Any) -> Callable[[psutil.Process], bool]:
    """Whether an engine actor's process has finished a `run_shard` call, so its model is loaded
    and the shard it runs now is generating (Ray's state API: a task's events name the pid of the
    worker that ran it, reported about once a second)."""
    from ray.util.state import list_tasks

    def finished(engine: psutil.Process) -> bool:
        done = [("name", "=", "EngineActor.run_shard"), ("state", "=", "FINISHED")]
        tasks = list_tasks(address=f"http://{sim.webui_url}", filters=done, detail=True, raise_on_missing_output=False)
        return engine.pid in {task.worker_pid for task in tasks}

    return finished


def test_a_worker_node_removed_mid_shard_its_shard_is_retried_on_the_other_and_the_outputs_equal_an_uninterrupted_run(
    tmp_path: Path, uninterrupted: dict[str, bytes], two_nodes: tuple[Any, list[Any]]
) -> None:
    sim, workers = two_nodes
    raylets = {raylet_pid(node): node for node in workers}
    with generating(tmp_path / "results", "--num-engines", "2", "--address", sim.address, watch=list(raylets)) as run:
        engine = run.engine_in_a_shard(eligible=finished_a_shard(sim))
        lost = next(node for pid, node in raylets.items() if pid in {p.pid for p in engine.parents()})
        node_processes = psutil.Process(raylet_pid(lost)).children(recursive=True)
        assert engine_core(engine) and set(engine_core(engine)) <= set(node_processes), "the node runs the engine's vLLM"
        sim.remove_node(lost)
        deadline = time.monotonic() + NODE_GONE_S
        while any(alive(p) for p in node_processes) and time.monotonic() < deadline:
            time.sleep(0.2)
        outlived = [title(p) for p in node_processes if alive(p)]

        assert run.finish() == 0, run.stderr()[-3000:]
        stderr = run.stderr()
        assert re.search(r"engine-\d lost", stderr), stderr[-2000:]
        assert not re.search(r"engine-\d joined", stderr), "no room for a replacement: the surviving engine ends the run"
        shards_run, resumed, retried = run.summary()
        assert (shards_run, resumed) == (SHARDS, 0) and retried >= 1, stderr[-2000:]
        outputs = run.outputs()
    assert not outlived, f"processes of the removed node outlived it: {outlived}"
    rows = [json.loads(line) for line in outputs["candidate_outputs.jsonl"].splitlines()]
    assert len(rows) == LIMIT and all(r["response"].strip() for r in rows), "every prompt answered"
    assert outputs == uninterrupted
