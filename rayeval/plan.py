"""The plan: models × benchmarks × prompts, cut into shards with stable ids.

A shard's id hashes the model path, the benchmark, the settings and the shard's own requests,
so a rerun with the same inputs finds the shards an interrupted run finished (and a rerun with
changed settings never mistakes old work for new).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from rayeval.benchmarks.base import Benchmark, Item
from rayeval.config import config_hash
from rayeval.data import DataSource
from rayeval.models import ModelSpec
from rayeval.requests import Request
from rayeval.settings import Settings
from rayeval.store import ResultStore

MIN_SHARD = 16
"""Below this, vLLM's continuous batching runs half-empty and per-call overhead shows."""
MAX_SHARD = 1024
"""Above this, a lost engine loses too much work and the last shards straggle. An engine runs a
shard as one batch that drains to its longest answer once its queue is empty, so a shard should
hold several of vLLM's default batches of 256 sequences: in bench/bench_sweep_makespan.py's cost
model (8 checkpoints × 4 benchmarks on 8 engines), rayeval's dispatch in virtual time takes 2.58×
the lower bound with at most 256, 1.85× with 512, 1.44× with 1024 (a shard per pair but
TruthfulQA's 2370) and 1.43× with 2400; the other scenarios move the same way."""


@dataclass(frozen=True)
class Shard:
    """A batch of one model's requests for one benchmark, run by one engine in one call."""

    id: str
    model: ModelSpec
    benchmark: str
    requests: tuple[Request, ...]


@dataclass
class BenchmarkWork:
    """Everything to generate for one (model, benchmark) pair."""

    model: ModelSpec
    benchmark: Benchmark[Any]
    items: list[Item]
    shards: list[Shard]

    @property
    def num_requests(self) -> int:
        return sum(len(s.requests) for s in self.shards)


@dataclass
class Plan:
    models: list[ModelSpec]
    benchmarks: list[Benchmark[Any]]
    work: list[BenchmarkWork]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    item_counts: dict[str, int] = field(default_factory=dict)

    def shards(self) -> list[Shard]:
        return [shard for work in self.work for shard in work.shards]


def shard_size_for(num_requests: int, num_engines: int, requested: int | None = None) -> int:
    """The shard size for a plan of `num_requests` requests in all (every benchmark, every model
    to run). With several engines, aim for at least two shards per engine over the whole plan (so
    none idles while another finishes a huge shard); a single engine gets the biggest batches.
    Counting the whole plan, not one model's benchmark, matters: 8 models on 8 engines would
    otherwise cut IFEval into shards of 34, each a batch that keeps a GPU a seventh busy (the
    makespan was 5.4× the lower bound in bench/bench_sweep_makespan.py's cost model). Always
    within [MIN_SHARD, MAX_SHARD] unless the user asked for a size."""
    if requested:
        return requested
    target = num_requests if num_engines <= 1 else math.ceil(num_requests / (2 * num_engines))
    return max(MIN_SHARD, min(MAX_SHARD, target))


def _request_digest(requests: tuple[Request, ...]) -> str:
    payload = json.dumps([{"type": type(r).__name__, **asdict(r)} for r in requests], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _chunks(requests: list[Request], size: int) -> list[tuple[tuple[Request, ...], str]]:
    """Runs of at most `size` requests, as even as can be (541 by 512 is 271 + 270, not 512 + 29:
    a small last shard is a batch that leaves the engine mostly idle), each with its digest. Every
    model gets the same runs, so they are cut and hashed once per benchmark (hashing is most of
    the planning time: 6 s for 8 models × 4 benchmarks when done per model)."""
    count = math.ceil(len(requests) / size)
    runs = [tuple(requests[index * len(requests) // count : (index + 1) * len(requests) // count]) for index in range(count)]
    return [(run, _request_digest(run)) for run in runs]


def _shards(model: ModelSpec, bench: Benchmark[Any], chunks: list[tuple[tuple[Request, ...], str]], settings: str) -> list[Shard]:
    shards = []
    for chunk, chunk_digest in chunks:
        digest = hashlib.sha256(f"{model.path}|{bench.name}|{bench.version}|{settings}|{chunk_digest}".encode()).hexdigest()[:20]
        shards.append(Shard(id=digest, model=model, benchmark=bench.name, requests=chunk))
    return shards


def build_plan(
    models: list[ModelSpec], benchmarks: list[Benchmark[Any]], data: DataSource, store: ResultStore, settings: Settings, num_engines: int
) -> Plan:
    """Load every benchmark once, then cut each (model, benchmark) pair into shards of one size,
    set by the requests of the whole plan (`shard_size_for`)."""
    plan = Plan(models=models, benchmarks=benchmarks, work=[])
    run = settings.run
    digest = config_hash(settings.sampling, settings.engine)
    loaded: list[tuple[Benchmark[Any], list[Item], list[Request], list[ModelSpec]]] = []
    for bench in benchmarks:
        items = bench.load_items(data, settings.options_for(bench.name))
        if run.limit is not None:
            items = items[: run.limit]
        plan.item_counts[bench.name] = len(items)
        to_run = []
        for model in models:
            if run.skip_existing and store.generation_finished(model.id, bench):
                plan.skipped.append((model.id, bench.name))
            else:
                to_run.append(model)
        loaded.append((bench, items, bench.build_requests(items), to_run))
    size = shard_size_for(sum(len(requests) * len(to_run) for _, _, requests, to_run in loaded), num_engines, run.shard_size)
    for bench, items, requests, to_run in loaded:
        chunks = _chunks(requests, size) if to_run else []
        for model in to_run:
            plan.work.append(BenchmarkWork(model=model, benchmark=bench, items=items, shards=_shards(model, bench, chunks, digest)))
    # Models in input order, so checkpoints finish in step order.
    order = {m.id: i for i, m in enumerate(models)}
    plan.work.sort(key=lambda w: order[w.model.id])
    return plan
