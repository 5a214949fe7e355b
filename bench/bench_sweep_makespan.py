"""Sweep makespan against the cluster's lower bound, for rayeval and the strategies it replaces.

    .venv/bin/python bench/bench_sweep_makespan.py [--quick] [--json PATH] [--scale SECONDS]

rayeval: the real plan (`rayeval.plan.build_plan` over the four built-in benchmarks, data from
../shared/data), the real scheduler, engine pool and placement groups on a simulated cluster
(`ray.cluster_utils.Cluster` with logical GPUs, as tests/test_scheduler_cluster.py does). No vLLM
runs on logical GPUs, so the engines come through the pool's injected engine factory as stand-ins
(cost_model.py) that sleep as long as `CostModel` says a GPU engine would take: `--scale` real
seconds per modelled second (0.02; 0.01 with --quick). Makespan: from the first shard sent to the
last output written (and the last judgement back), engine actors already started.

The same cost model prices, on the same requests and answer lengths, in pure simulations:
- replaced: the tool rayeval replaces. Each GPU slot (tp GPUs) serves one model at a time with
  `vllm serve`, taking the next model when it is done; the benchmarks run one after another, each
  one's prompts sent by 8 client threads, so the server's batch never holds more than 8;
- static: checkpoints split evenly across the engines up front (round robin), each engine running
  its models' benchmarks as full offline batches: rayeval's batches without its dispatching.

Lower bound: (ideal work + one load per model) / engines (engine speeds summed), where ideal work
runs every decode step with a full batch; and at least one model load plus the longest single
request. Scenarios (8 checkpoints × IFEval, TruthfulQA with MC, AlpacaEval, LiveBench):
8 GPUs tp 1; 16 GPUs tp 4 (a 70B model); 8 GPUs with one 4-GPU node at half speed; very uneven
answer lengths (log-normal spread 1.2 per answer, 0.7 per checkpoint); judging overlapping
generation (AlpacaEval judged by an in-cluster judge on 2 of the 8 GPUs, fed through the
scheduler's `PairListener` hook as `rayeval sweep` feeds its scoring; the other strategies judge
after generating, on all 8 GPUs). Targets: rayeval <= 1.10 × lower bound in every scenario, and
>= 2× faster than the replaced strategy on 8 checkpoints × 8 GPUs.
"""

from __future__ import annotations

import argparse
import heapq
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cost_model
from _table import Row, add_table_arguments, emit
from cost_model import CostModel, Tokens, Workload, cost_model_factory

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BENCHMARKS = ("ifeval", "truthfulqa", "alpacaeval", "livebench")
CHECKPOINTS = 8
REPLACED_THREADS = 8
"""The replaced tool's client threads per benchmark: the most its server ever batches."""
TARGET_OF_BOUND = 1.10
TARGET_SPEEDUP = 2.0
LARGE_MODEL = CostModel(load_s=150.0, prefill_s_per_token=9e-5, decode_s_per_step=0.035)
"""A 70B model on 4 GPUs (tp 4): 140 GB of bf16 weights read at 4 × 3 TB/s plus all-reduces make a
step ~35 ms; 140 GFLOP a token at 4 × 400 TFLOP/s, ~11k tokens/s prefill; loading ~150 s."""
JUDGE_GPUS = 2
"""In-cluster judge replicas (1 GPU each) in the judging scenario: AlpacaEval's judgements read
about a third of what generation writes, so 2 of 8 GPUs keep pace with 6 engines."""
JUDGED = "alpacaeval"


@dataclass(frozen=True)
class Scenario:
    name: str
    node_gpus: tuple[int, ...]
    tp: int = 1
    cost: CostModel = field(default_factory=CostModel)
    workload: Workload = field(default_factory=Workload)
    node_speed: tuple[float, ...] = ()
    """Speed of each node's engines (1.0 when not given)."""
    judge: bool = False

    def speeds(self) -> list[float]:
        """One entry per engine the nodes hold (judge GPUs included), node by node."""
        return [self.speed_of(i) for i, gpus in enumerate(self.node_gpus) for _ in range(gpus // self.tp)]

    def speed_of(self, node: int) -> float:
        return self.node_speed[node] if node < len(self.node_speed) else 1.0


SCENARIOS = (
    Scenario("8×4 on 8 GPUs, tp 1", (4, 4)),
    Scenario("8×4 on 16 GPUs, tp 4", (8, 8), tp=4, cost=LARGE_MODEL),
    Scenario("8×4 on 8 GPUs, one node at half speed", (4, 4), node_speed=(1.0, 0.5)),
    Scenario("8×4 on 8 GPUs, very uneven answer lengths", (4, 4), workload=Workload(sigma=1.2, model_sigma=0.7)),
    Scenario("8×4 on 8 GPUs, AlpacaEval judged during generation", (4, 4), judge=True),
)


# -- the work, priced -----------------------------------------------------------------------------


def plan_for(scenario: Scenario, store: Any, num_engines: int) -> Any:
    from rayeval import benchmarks
    from rayeval.data import DataSource
    from rayeval.models import ModelSpec
    from rayeval.plan import build_plan
    from rayeval.settings import Settings

    models = [ModelSpec(id=f"run_checkpoint-{i}", path=f"/ckpt/run/checkpoint-{i}", run="run", step=i) for i in range(1, CHECKPOINTS + 1)]
    return build_plan(models, [benchmarks.get(name) for name in BENCHMARKS], DataSource(SHARED_DATA), store, Settings(), num_engines)


def work_by_model(plan: Any, workload: Workload) -> dict[str, list[list[Tokens]]]:
    """Per model (input order), per benchmark (input order), the tokens of every request."""
    sampling = plan_sampling()
    per_model: dict[str, list[list[Tokens]]] = {}
    for work in plan.work:
        tokens = [workload.sequence(work.model.path, r, sampling) for shard in work.shards for r in shard.requests]
        per_model.setdefault(work.model.path, []).append(tokens)
    return per_model


def plan_sampling() -> Any:
    from rayeval.settings import Settings

    return Settings().sampling


def judge_requests(plan: Any, model_id: str, workload: Workload) -> list[Any]:
    """The judgements of one model's AlpacaEval answers: each reads the instruction, the model's
    answer and the reference answer (about as long), and writes one token (AlpacaEval 2's
    weighted win rate reads the logprobs of one token)."""
    from cost_model import CHARS_PER_TOKEN

    from rayeval.requests import ChatRequest

    sampling = plan_sampling()
    requests = []
    for work in plan.work:
        if work.model.id != model_id or work.benchmark.name != JUDGED:
            continue
        for shard in work.shards:
            for r in shard.requests:
                answer = workload.sequence(work.model.path, r, sampling).output_tokens
                reference = workload.sequence("reference", r, sampling).output_tokens
                text = r.messages[0]["content"] + "x" * ((answer + reference) * CHARS_PER_TOKEN)
                requests.append(ChatRequest(key=r.key, messages=({"role": "user", "content": text},), max_tokens=1))
    return requests


def judge_tokens(plan: Any, workload: Workload) -> list[Tokens]:
    models = list(dict.fromkeys(w.model.id for w in plan.work))
    return [workload.sequence("judge", r, plan_sampling()) for m in models for r in judge_requests(plan, m, workload)]


def lower_bound(per_model: dict[str, list[list[Tokens]]], cost: CostModel, speeds: Sequence[float], judged: Sequence[Tokens] = ()) -> float:
    """No schedule on engines of these speeds finishes sooner (module docstring)."""
    everything = [t for benches in per_model.values() for tokens in benches for t in tokens]
    loads = len(per_model) + (1 if judged else 0)
    total = cost.ideal_seconds(everything) + cost.ideal_seconds(judged) + loads * cost.load_s
    longest = cost.load_s + max(cost.longest_seconds(t) for t in everything)
    return max(total / sum(speeds), longest / max(speeds))


def replaced_makespan(per_model: dict[str, list[list[Tokens]]], cost: CostModel, speeds: Sequence[float]) -> float:
    """One model at a time per GPU slot, the next model to the first free slot; benchmarks one
    after another, each with at most `REPLACED_THREADS` requests in the server's batch."""
    free = [(0.0, slot) for slot in range(len(speeds))]
    for benches in per_model.values():
        start, slot = heapq.heappop(free)
        seconds = cost.load_s + sum(cost.batch_seconds(tokens, REPLACED_THREADS) for tokens in benches)
        heapq.heappush(free, (start + seconds / speeds[slot], slot))
    return max(end for end, _ in free)


def static_makespan(per_model: dict[str, list[list[Tokens]]], cost: CostModel, speeds: Sequence[float]) -> float:
    """Models dealt round robin to the engines up front; each benchmark one full offline batch."""
    ends = [0.0] * len(speeds)
    for index, benches in enumerate(per_model.values()):
        engine = index % len(speeds)
        ends[engine] += (cost.load_s + sum(cost.batch_seconds(tokens) for tokens in benches)) / speeds[engine]
    return max(ends)


def judging_after(judged: Sequence[Tokens], cost: CostModel, gpus: int) -> float:
    """Judging after generation on every GPU: a load, then an even share as one batch each."""
    return cost.load_s + max(cost.batch_seconds(judged[i::gpus]) for i in range(gpus))


# -- rayeval on a simulated cluster ---------------------------------------------------------------


@contextmanager
def simulated_cluster(node_gpus: Sequence[int]) -> Iterator[list[str]]:
    """A real Ray head and one raylet per entry with that many logical GPUs; yields node ids."""
    import ray
    from ray.cluster_utils import Cluster

    sim = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0})
    try:
        # One logical CPU per GPU: an engine actor takes one CPU beside its first GPU.
        nodes = [sim.add_node(num_cpus=gpus, num_gpus=gpus) for gpus in node_gpus]
        sim.wait_for_nodes()
        ray.init(address=sim.address, logging_level="ERROR", log_to_driver=False)
        ray.cloudpickle.register_pickle_by_value(cost_model)
        yield [node.node_id for node in nodes]
    finally:
        ray.shutdown()
        sim.shutdown()


class JudgeDuringGeneration:
    """The scheduler's `PairListener`: when a model's AlpacaEval outputs are written, its
    judgements go at once to the judge replica with the least queued (as `rayeval sweep` starts a
    pair's scoring the moment it is written). A replica is rayeval's own `EngineActor` on a 1-GPU
    placement group holding the judge model, with the cost-model engine."""

    def __init__(self, plan: Any, workload: Workload, factory: Any, config: Any) -> None:
        import ray

        from rayeval.engine.actor import EngineActor
        from rayeval.engine.placement import reserve_placement
        from rayeval.models import ModelSpec

        self.plan, self.workload = plan, workload
        self.judge_model = ModelSpec(id="judge", path="judge")
        self.placements = [reserve_placement(1, True) for _ in range(JUDGE_GPUS)]
        self.replicas = [
            ray.remote(EngineActor).options(max_concurrency=1, **p.actor_options).remote(config, p.gpu_ids, factory)
            for p in self.placements
        ]
        ray.get([replica.describe.remote() for replica in self.replicas])  # started, as the engines are
        self.queued = [0] * JUDGE_GPUS
        self.refs: list[Any] = []

    def pair_written(self, model_id: str, benchmark: str) -> None:
        if benchmark != JUDGED:
            return
        requests = judge_requests(self.plan, model_id, self.workload)
        replica = min(range(JUDGE_GPUS), key=lambda i: self.queued[i])
        self.queued[replica] += len(requests)
        self.refs.append(self.replicas[replica].run_shard.remote(self.judge_model, requests, plan_sampling()))

    def tick(self) -> None:
        pass

    def wait(self) -> int:
        """Wait for every judgement; returns how many there were."""
        import ray

        return sum(len(outcome.results) for outcome in ray.get(self.refs))

    def shutdown(self) -> None:
        import ray

        from rayeval.engine.placement import release_placement

        for replica in self.replicas:
            ray.kill(replica, no_restart=True)
        for placement in self.placements:
            release_placement(placement)


@dataclass
class Measured:
    makespan: float
    """Modelled seconds."""
    loads: int
    speeds: list[float]
    plan: Any


def run_rayeval(scenario: Scenario, node_ids: list[str], scale: float) -> Measured:
    from rayeval.config import EngineConfig
    from rayeval.engine.placement import EngineLayout
    from rayeval.engine.pool import EnginePool
    from rayeval.scheduler import Scheduler
    from rayeval.store import ResultStore

    speed_by_node = {node: scenario.speed_of(i) for i, node in enumerate(node_ids)}
    factory = cost_model_factory(scenario.cost, scenario.workload, scale, speed_by_node)
    config = EngineConfig(tp_size=scenario.tp)
    engines = len(scenario.speeds()) - (JUDGE_GPUS if scenario.judge else 0)
    with tempfile.TemporaryDirectory(prefix="rayeval-bench-sweep-") as results:
        store = ResultStore(Path(results))
        plan = plan_for(scenario, store, engines)
        judges = JudgeDuringGeneration(plan, scenario.workload, factory, config) if scenario.judge else None
        pool = EnginePool(EngineLayout(num_engines=engines, tp_size=scenario.tp, use_gpu=True), config, factory)
        try:
            pool.start()
            pool.wait_ready()  # time the sweep, not actor start-up (the other strategies start none)
            speeds = [speed_by_node.get(h.placement.node_id, 1.0) for h in pool.handles]
            started = time.perf_counter()
            report = Scheduler(pool, store, plan_sampling(), listener=judges).run(plan)
            judged = judges.wait() if judges else 0
            wall = time.perf_counter() - started
        finally:
            pool.shutdown()
            if judges:
                judges.shutdown()
        expected = {(w.model.id, w.benchmark.name) for w in plan.work}
        if report.failed_models or set(report.finished) != expected:
            raise RuntimeError(f"{scenario.name}: not every pair was written: {report.failed_models or expected - set(report.finished)}")
        if judges and judged != len(judge_tokens(plan, scenario.workload)):
            raise RuntimeError(f"{scenario.name}: {judged} judgements came back")
    return Measured(makespan=wall / scale, loads=report.model_loads, speeds=speeds, plan=plan)


# -- the report -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    scenario: Scenario
    bound: float
    rayeval: float
    replaced: float
    static: float
    loads: int


def measure(scenario: Scenario, node_ids: list[str], scale: float) -> Outcome:
    measured = run_rayeval(scenario, node_ids, scale)
    per_model = work_by_model(measured.plan, scenario.workload)
    speeds = scenario.speeds()
    if sorted(measured.speeds) != sorted(speeds)[: len(measured.speeds)]:
        raise RuntimeError(f"{scenario.name}: the engines' speeds {measured.speeds} are not the scenario's {speeds}")
    judged = judge_tokens(measured.plan, scenario.workload) if scenario.judge else []
    after = judging_after(judged, scenario.cost, len(speeds)) if judged else 0.0
    outcome = Outcome(
        scenario=scenario,
        bound=lower_bound(per_model, scenario.cost, speeds, judged),
        rayeval=measured.makespan,
        replaced=replaced_makespan(per_model, scenario.cost, speeds) + after,
        static=static_makespan(per_model, scenario.cost, speeds) + after,
        loads=measured.loads,
    )
    print(
        f"{scenario.name}: lower bound {outcome.bound:.0f} s; rayeval {outcome.rayeval:.0f} s ({outcome.loads} model loads), "
        f"replaced {outcome.replaced:.0f} s, static {outcome.static:.0f} s (modelled seconds)",
        flush=True,
    )
    return outcome


def rows_of(outcomes: list[Outcome]) -> list[Row]:
    rows = []
    for o in outcomes:
        ratio = o.rayeval / o.bound
        rows.append(
            Row(
                name=f"sweep {o.scenario.name}: rayeval makespan ÷ lower bound",
                measured=f"{ratio:.2f} ({o.rayeval:.0f} s / {o.bound:.0f} s modelled)",
                target=f"<= {TARGET_OF_BOUND:.2f}",
                ratio=ratio,
                passed=ratio <= TARGET_OF_BOUND,
            )
        )
        for strategy, makespan in (("replaced tool (8 threads, model by model)", o.replaced), ("static sharding", o.static)):
            rows.append(
                Row.reported(
                    f"sweep {o.scenario.name}: {strategy} makespan ÷ lower bound", f"{makespan / o.bound:.2f}", ratio=makespan / o.bound
                )
            )
    first = outcomes[0]
    speedup = first.replaced / first.rayeval
    rows.append(
        Row.at_least(
            f"sweep {first.scenario.name}: rayeval speed-up over the replaced tool",
            f"{speedup:.1f}× ({first.replaced:.0f} s vs {first.rayeval:.0f} s modelled)",
            speedup,
            TARGET_SPEEDUP,
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_table_arguments(parser)
    parser.add_argument("--scale", type=float, help="real seconds per modelled second [default: 0.02; 0.01 with --quick]")
    args = parser.parse_args()
    scale = args.scale or (0.01 if args.quick else 0.02)
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    for node_gpus in dict.fromkeys(s.node_gpus for s in SCENARIOS):  # one cluster per shape, in order
        with simulated_cluster(node_gpus) as node_ids:
            outcomes += [measure(s, node_ids, scale) for s in SCENARIOS if s.node_gpus == node_gpus]
    outcomes.sort(key=lambda o: SCENARIOS.index(o.scenario))
    print(f"{len(outcomes)} scenarios in {time.perf_counter() - started:.0f} s at {scale * 1000:g} ms per modelled second")
    emit(rows_of(outcomes), args)


if __name__ == "__main__":
    main()
