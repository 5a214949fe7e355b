"""The dispatch rules (rayeval/dispatch.py) without Ray: plain objects, milliseconds per test.

The Ray side (real actors dying, nodes vanishing) is covered by tests/test_scheduler_cluster.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rayeval.dispatch import Dispatcher, Finish, Retry
from rayeval.models import ModelSpec


@dataclass(frozen=True)
class FakeShard:
    """Just what the dispatcher reads of a `rayeval.plan.Shard`."""

    id: str
    model: ModelSpec
    benchmark: str


def add(core: Dispatcher[FakeShard], model_id: str, count: int, benchmark: str = "ifeval") -> list[FakeShard]:
    """Register `count` shards of one (model, benchmark) pair, ids `<model>/<benchmark>/<n>`."""
    model = ModelSpec(id=model_id, path=f"/ckpt/{model_id}")
    shards = [FakeShard(f"{model_id}/{benchmark}/{n}", model, benchmark) for n in range(count)]
    core.add_pair(model_id, benchmark, shards)
    return shards


def take(core: Dispatcher[FakeShard], engine: str) -> FakeShard:
    shard = core.next_shard(engine)
    assert shard is not None, f"{engine} got no shard"
    return shard


def models_of(shards: list[FakeShard]) -> list[str]:
    return [s.model.id for s in shards]


# -- choosing work -----------------------------------------------------------------------------


def test_engine_keeps_the_model_it_holds() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=1)
    a = add(core, "a", 3)
    add(core, "b", 3)
    assert take(core, "e1") == a[0]
    assert core.finish(a[0]) is Finish.ACCEPTED
    assert take(core, "e1") == a[1], "an untouched model must not lure an engine off its own model"
    assert core.held_model("e1") == "a"


def test_free_engine_takes_an_untouched_model_in_input_order() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=1)
    a = add(core, "a", 1)
    b = add(core, "b", 5)
    c = add(core, "c", 2)
    d = add(core, "d", 2)
    assert take(core, "e1") == a[0]
    assert take(core, "e2") == b[0]
    core.finish(a[0])
    # a is exhausted; b has the most left, but c is untouched and comes first in input order.
    assert take(core, "e1") == c[0]
    assert take(core, "e3") == d[0]


def test_with_every_model_taken_an_engine_steals_from_the_biggest() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=1)
    a = add(core, "a", 3)
    b = add(core, "b", 6)
    c = add(core, "c", 1)
    assert models_of([take(core, "e1"), take(core, "e2"), take(core, "e3")]) == ["a", "b", "c"]
    core.finish(c[0])
    assert take(core, "e3") == b[1], "b has 5 pending, a only 2"
    assert core.held_model("e3") == "b"
    assert core.pending("a") == a[1:]


def test_stealing_ties_go_to_the_earlier_model() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=1)
    a = add(core, "a", 3)
    add(core, "b", 3)
    take(core, "e1")
    take(core, "e2")
    assert take(core, "e3") == a[1]


def test_depth_limits_shards_in_flight_per_engine() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=2)
    a = add(core, "a", 5)
    first, second = take(core, "e1"), take(core, "e1")
    assert core.next_shard("e1") is None
    assert core.in_flight("e1") == 2
    assert take(core, "e2") == a[2], "a full engine leaves the rest for others"
    core.finish(first)
    assert core.in_flight("e1") == 1
    assert take(core, "e1") == a[3]
    core.retry(second, "boom")
    assert core.in_flight("e1") == 1, "a failed call frees its slot too"


def test_a_busy_engine_queues_only_its_own_model_and_never_its_last_shard() -> None:
    """A shard queued behind a running one cannot move; left pending, the last shard of a model
    goes to whichever engine frees up first (a straggler must not keep it)."""
    core: Dispatcher[FakeShard] = Dispatcher(depth=2)
    a = add(core, "a", 3)
    b = add(core, "b", 2)
    assert [take(core, "e1"), take(core, "e1")] == a[:2]
    assert core.next_shard("e1") is None, "full"
    core.finish(a[0])
    assert core.next_shard("e1") is None, "a[2] is a's last pending shard: it waits for a free engine"
    assert take(core, "e2") == b[0]
    assert core.next_shard("e2") is None, "b[1] is b's last: not queued behind b[0]"
    assert take(core, "e3") == a[2], "a free engine takes it (a has most left, ties to the earlier model)"
    core.finish(a[1])
    assert take(core, "e1") == b[1], "an idle engine steals"
    assert core.next_shard("e3") is None, "a busy engine never queues another model's shard"


def test_no_pending_work_means_no_shard() -> None:
    core: Dispatcher[FakeShard] = Dispatcher()
    a = add(core, "a", 1)
    take(core, "e1")
    assert core.next_shard("e2") is None
    core.finish(a[0])
    assert core.next_shard("e1") is None


def test_depth_and_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Dispatcher(depth=0)
    with pytest.raises(ValueError):
        Dispatcher(max_attempts=0)


# -- retries and failures ----------------------------------------------------------------------


def test_failed_call_requeues_the_shard_at_the_front() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=1)
    a = add(core, "a", 3)
    shard = take(core, "e1")
    assert core.retry(shard, "transient") is Retry.REQUEUED
    assert core.pending("a") == [a[0], a[1], a[2]]
    assert take(core, "e2") == a[0]


def test_retries_are_bounded_then_the_model_fails() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(max_attempts=3, depth=1)
    add(core, "a", 3)
    b = add(core, "b", 1)
    shard = take(core, "e1")
    assert core.retry(shard, "first") is Retry.REQUEUED
    assert take(core, "e1") == shard
    assert core.retry(shard, "second") is Retry.REQUEUED
    assert take(core, "e1") == shard
    assert core.retry(shard, "CUDA error: out of memory") is Retry.MODEL_FAILED
    reason = core.failure("a")
    assert reason is not None and "3 times" in reason and "CUDA error: out of memory" in reason
    assert core.pending("a") == []
    assert core.failure("b") is None
    assert take(core, "e1") == b[0], "the rest of the run carries on"


def test_failed_model_drops_its_shards_and_releases_its_engines() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=1)
    add(core, "a", 6)
    b = add(core, "b", 3)
    in_flight = [take(core, "e1"), take(core, "e2"), take(core, "e3")]
    assert models_of(in_flight) == ["a", "b", "a"]
    assert core.fail_model("a", "could not load /ckpt/a") is True
    assert core.pending("a") == [] and core.stranded() == ["b"]
    assert core.held_model("e1") is None and core.held_model("e3") is None
    assert core.held_model("e2") == "b"
    # Its shards still in flight come back to nothing: no journaling, no retry.
    assert core.finish(in_flight[0]) is Finish.IGNORED
    assert core.retry(in_flight[2], "boom") is Retry.IGNORED
    assert core.pending("a") == []
    assert take(core, "e1") == b[1], "a released engine moves on"
    assert core.fail_model("a", "another reason") is False
    assert core.failure("a") == "could not load /ckpt/a", "the first reason is kept"


def test_load_failure_fails_the_model_once_and_frees_the_slot() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=2)
    add(core, "a", 4)
    first, second = take(core, "e1"), take(core, "e1")
    assert core.load_failed(first, "not a valid model config") is True
    assert core.load_failed(second, "not a valid model config") is False
    assert core.in_flight("e1") == 0
    assert core.failure("a") == "not a valid model config"
    assert core.stranded() == []


def test_pairs_of_a_failed_model_take_no_new_shards() -> None:
    core: Dispatcher[FakeShard] = Dispatcher()
    add(core, "a", 2)
    core.fail_model("a", "broken")
    add(core, "a", 2, benchmark="truthfulqa")
    assert core.pending("a") == [] and core.stranded() == []


# -- finishing ---------------------------------------------------------------------------------


def test_shard_finishes_exactly_once_and_its_pair_completes_once() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=1)
    a = add(core, "a", 2)
    add(core, "a", 1, benchmark="truthfulqa")
    first = take(core, "e1")
    assert core.retry(first, "engine lost") is Retry.REQUEUED
    again = take(core, "e2")
    assert again == first
    assert core.finish(again) is Finish.ACCEPTED
    assert core.finish(first) is Finish.IGNORED, "a duplicate of a re-queued shard is ignored"
    assert core.retry(first, "late error") is Retry.IGNORED, "a finished shard is never re-queued"
    assert first not in core.pending("a")
    assert take(core, "e2") == a[1]
    assert core.finish(a[1]) is Finish.PAIR_COMPLETE
    assert core.finish(a[1]) is Finish.IGNORED
    last = take(core, "e2")
    assert last.benchmark == "truthfulqa"
    assert core.finish(last) is Finish.PAIR_COMPLETE, "pairs are counted separately"


def test_journaled_shards_count_as_finished_and_are_not_dispatched() -> None:
    core: Dispatcher[FakeShard] = Dispatcher()
    model = ModelSpec(id="a", path="/ckpt/a")
    shards = [FakeShard(f"s{n}", model, "ifeval") for n in range(3)]
    assert core.add_pair("a", "ifeval", shards, already_finished={"s0", "s2"}) is False
    assert core.pending("a") == [shards[1]]
    assert core.finish(shards[0]) is Finish.IGNORED, "already journaled by the earlier run"
    assert core.finish(take(core, "e1")) is Finish.PAIR_COMPLETE


def test_pair_with_nothing_to_run_is_complete_at_once() -> None:
    core: Dispatcher[FakeShard] = Dispatcher()
    model = ModelSpec(id="a", path="/ckpt/a")
    assert core.add_pair("a", "ifeval", []) is True
    assert core.add_pair("a", "truthfulqa", [FakeShard("t0", model, "truthfulqa")], already_finished={"t0"}) is True
    assert core.stranded() == []


# -- engines -----------------------------------------------------------------------------------


def test_lost_engine_is_forgotten_and_its_shards_come_back_through_retry() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=2)
    a = add(core, "a", 4)
    add(core, "b", 4)
    lost = [take(core, "e1"), take(core, "e1")]
    core.engine_lost("e1")
    assert core.held_model("e1") is None and core.in_flight("e1") == 0
    # Nobody works on a now, so a fresh engine takes it (input order) instead of b.
    assert take(core, "e2") == a[2]
    for shard in lost:
        assert core.retry(shard, "engine lost (ActorDiedError)") is Retry.REQUEUED
    assert core.pending("a") == [a[1], a[0], a[3]]
    assert core.in_flight("e2") == 1, "the dead engine's shards never occupied the survivor's slots"
    core.engine_lost("e1")  # a second report of the same loss changes nothing


def test_stranded_lists_models_with_pending_shards_in_input_order() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=1)
    add(core, "a", 1)
    add(core, "b", 2)
    add(core, "c", 1)
    assert core.stranded() == ["a", "b", "c"]
    shard = take(core, "e1")
    take(core, "e2")
    assert core.stranded() == ["b", "c"]
    core.retry(shard, "engine lost")
    assert core.stranded() == ["a", "b", "c"]
    core.fail_model("b", "broken")
    assert core.stranded() == ["a", "c"]


# -- the scheduler's use of the core (no engine is ever called here) ---------------------------


def test_rerun_with_every_shard_journaled_writes_the_outputs_once() -> None:
    """A run interrupted between journaling its last shard and writing the outputs: the rerun
    only writes them (it used to finalize the pair twice and fail the model with a KeyError)."""
    from types import SimpleNamespace

    from rayeval.scheduler import Scheduler

    model = ModelSpec(id="a", path="/ckpt/a")
    shards = [SimpleNamespace(id=f"s{n}", model=model, benchmark="ifeval", requests=("request",)) for n in range(2)]
    writes: list[dict] = []
    benchmark = SimpleNamespace(
        name="ifeval", results_dirname="ifeval", write_generations=lambda out, mid, items, results: writes.append(results)
    )
    work = SimpleNamespace(model=model, benchmark=benchmark, items=[], shards=shards, num_requests=2)
    cleared: list[tuple[str, str]] = []
    store = SimpleNamespace(
        load_shard=lambda mid, bench, shard_id: [SimpleNamespace(key=shard_id, completion_tokens=1)],
        benchmark_dir=lambda mid, dirname: f"/results/{mid}/{dirname}",
        clear_journal=lambda mid, bench: cleared.append((mid, bench)),
    )
    scheduler = Scheduler(SimpleNamespace(handles=[], pending=[], admit_ready=list), store, sampling=None)  # type: ignore[arg-type]
    report = scheduler.run(SimpleNamespace(work=[work]))  # type: ignore[arg-type]
    assert report.failed_models == {}
    assert report.finished == [("a", "ifeval")] and report.shards_resumed == 2 and report.shards_run == 0
    assert len(writes) == 1 and sorted(writes[0]) == ["s0", "s1"]
    assert cleared == [("a", "ifeval")]


# -- lanes: API models on their own engines ----------------------------------------------------


def add_in_lane(core: Dispatcher[FakeShard], model_id: str, count: int, lane: str | None) -> list[FakeShard]:
    model = ModelSpec(id=model_id, path=f"/ckpt/{model_id}")
    shards = [FakeShard(f"{model_id}/ifeval/{n}", model, "ifeval") for n in range(count)]
    core.add_pair(model_id, "ifeval", shards, lane=lane)
    return shards


def test_engines_take_only_models_of_their_lane() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=4)
    local = add_in_lane(core, "local", 2, None)
    api = add_in_lane(core, "api", 3, "openai:m@http://x/v1")

    def run_all(engine: str, lane: str | None = None) -> list[FakeShard]:
        taken = []
        while (shard := core.next_shard(engine, lane)) is not None:
            taken.append(shard)
            core.finish(shard)
        return taken

    assert run_all("engine-1") == local, "a vLLM engine must never take an API model's shard"
    assert run_all("api-1", lane="openai:m@http://x/v1") == api, "an API engine takes its own model only"
    assert core.next_shard("engine-2") is None, "an engine that joins later is lane None: nothing left for it"


def test_an_api_engine_never_steals_local_work() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=1)
    add_in_lane(core, "local", 5, None)
    assert core.next_shard("api-1", lane="openai:m@http://x/v1") is None


def test_unserved_names_models_whose_lane_has_no_engine() -> None:
    core: Dispatcher[FakeShard] = Dispatcher(depth=1)
    add_in_lane(core, "local", 1, None)
    add_in_lane(core, "api", 1, "lane-a")
    assert core.unserved({None, "lane-a"}) == []
    assert core.unserved({None}) == ["api"], "an API model whose engine is gone is unserved"
    assert core.unserved({"lane-a"}) == ["local"]


def test_a_model_keeps_one_lane() -> None:
    core: Dispatcher[FakeShard] = Dispatcher()
    add_in_lane(core, "m", 1, "lane-a")
    with pytest.raises(ValueError, match="lane"):
        core.add_pair("m", "truthfulqa", [], lane=None)


def test_a_shard_killed_for_memory_is_one_line_saying_what_to_do() -> None:
    """Ray's OOM message is a page whose last line is cut mid-sentence (seen in a real sweep)."""
    from ray.exceptions import OutOfMemoryError

    from rayeval.scheduler import OUT_OF_MEMORY, _failure_reason

    page = "Task was killed due to the node running low on memory.\nMemory on the node was 23.1GB / 24GB.\nSet max_restarts and max_task_"
    assert _failure_reason(OutOfMemoryError(page)) == OUT_OF_MEMORY
    assert _failure_reason(RuntimeError("first\nlast line")) == "last line"
