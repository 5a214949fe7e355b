"""Plans and shards: sizes, stable ids, --limit and --skip-existing. Reads ../shared/data."""

from __future__ import annotations

from pathlib import Path

from rayeval import benchmarks
from rayeval.config import EngineConfig, RunOptions, SamplingConfig
from rayeval.data import DataSource
from rayeval.models import ModelSpec
from rayeval.plan import MAX_SHARD, MIN_SHARD, build_plan, shard_size_for
from rayeval.settings import Settings
from rayeval.store import ResultStore

MODELS = [ModelSpec(id="a", path="/m/a"), ModelSpec(id="b", path="/m/b")]


def plan_for(
    tmp_path: Path,
    shared_data: Path,
    sampling: SamplingConfig | None = None,
    engine: EngineConfig | None = None,
    num_engines: int = 2,
    **run_options,
):
    settings = Settings(run=RunOptions(**run_options), engine=engine or EngineConfig(), sampling=sampling or SamplingConfig())
    return build_plan(MODELS, [benchmarks.get("ifeval")], DataSource(shared_data), ResultStore(tmp_path), settings, num_engines)


def test_shard_size_bounds() -> None:
    assert shard_size_for(10, 4) == MIN_SHARD
    assert shard_size_for(100_000, 1) == MAX_SHARD
    assert shard_size_for(541, 2) == 136
    assert shard_size_for(100, 1) == 100, "one engine: one batch, as a bare vLLM call would"
    assert shard_size_for(541, 2, requested=7) == 7


def test_every_prompt_in_exactly_one_shard(tmp_path: Path, shared_data: Path) -> None:
    plan = plan_for(tmp_path, shared_data, shard_size=50)
    for work in plan.work:
        keys = [r.key for shard in work.shards for r in shard.requests]
        assert keys == [item.key for item in work.items]
        assert len(keys) == 541
    assert len({s.id for s in plan.shards()}) == len(plan.shards()) == 2 * 11


def test_shard_ids_are_stable_and_follow_settings(tmp_path: Path, shared_data: Path) -> None:
    first = [s.id for s in plan_for(tmp_path, shared_data).shards()]
    again = [s.id for s in plan_for(tmp_path, shared_data).shards()]
    reseeded = [s.id for s in plan_for(tmp_path, shared_data, sampling=SamplingConfig(seed=1)).shards()]
    assert first == again
    assert not set(first) & set(reseeded)


def test_limit_and_skip_existing(tmp_path: Path, shared_data: Path) -> None:
    done = tmp_path / "a" / "ifeval" / "candidate_outputs.jsonl"
    done.parent.mkdir(parents=True)
    done.write_text("")
    plan = plan_for(tmp_path, shared_data, limit=20, skip_existing=True)
    assert plan.skipped == [("a", "ifeval")]
    assert [(w.model.id, w.num_requests) for w in plan.work] == [("b", 20)]


def test_shard_size_counts_the_whole_plan_and_cuts_evenly(tmp_path: Path, shared_data: Path) -> None:
    """At least two shards per engine over the whole plan, not per model and benchmark: 8
    checkpoints of IFEval on 8 engines make 2 shards of 270-271 per model, not 16 of 34 that would
    each be a batch keeping an engine a seventh busy; with AlpacaEval too, shards of up to 673."""
    models = [ModelSpec(id=f"c{i}", path=f"/m/c{i}") for i in range(8)]
    data, store = DataSource(shared_data), ResultStore(tmp_path)
    plan = build_plan(models, [benchmarks.get("ifeval")], data, store, Settings(), 8)
    assert [[len(s.requests) for s in w.shards] for w in plan.work] == [[270, 271]] * 8
    both = build_plan(models, [benchmarks.get("ifeval"), benchmarks.get("alpacaeval")], data, store, Settings(), 8)
    assert [[len(s.requests) for s in w.shards] for w in both.work] == [[541], [402, 403]] * 8
    sizes = sorted(len(s.requests) for s in plan_for(tmp_path, shared_data, num_engines=8).work[0].shards)
    assert sizes == [67] * 3 + [68] * 5, "two models on 8 engines: 8 shards each, 16 in all"
    assert [len(s.requests) for s in plan_for(tmp_path, shared_data, num_engines=1).work[0].shards] == [541], (
        "one engine: the biggest batch"
    )
