"""`rayeval sweep --watch`: the readiness rules on real folders with an injected clock, the
`--watch-until` forms, and the watch loop on real Ray with real checkpoint folders written while
the sweep watches. Generation runs on the stand-in engines of tests/standin_engine.py (a test
double: a vLLM start costs ~30 s here, and the stand-in never reads the weights these tests
write); scoring tasks and result files are real. Reads ../shared/data for the IFEval prompts."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from checkpoints import safetensors_bytes
from cli_runner import run_rayeval as rayeval

from rayeval import benchmarks
from rayeval.config import RunOptions, SamplingConfig, SweepOptions
from rayeval.data import DataSource
from rayeval.engine.placement import EngineLayout
from rayeval.errors import RayevalError
from rayeval.generation import GenerateRequest
from rayeval.models import ModelSpec
from rayeval.scheduler import SilentProgress
from rayeval.settings import Settings
from rayeval.store import ResultStore
from rayeval.sweep import SweepReport, Watching, plan_sweep, run_sweep
from rayeval.watch import (
    CheckpointWatcher,
    ReadinessRules,
    UntilElapsed,
    UntilFolder,
    UntilStep,
    check_watchable,
    parse_watch_until,
    until_met,
)

LIMIT = 8
LONG_AGO = time.time() - 3600.0


def write_checkpoint(folder: Path, *, config: bool = True, weights: bool = True, mtime: float | None = None) -> None:
    """A checkpoint folder as a trainer leaves it (the stand-in engine never reads the bytes);
    `mtime` sets every file's and the folder's modification time."""
    folder.mkdir(parents=True, exist_ok=True)
    if config:
        (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    if weights:
        (folder / "model.safetensors").write_bytes(safetensors_bytes())
    if mtime is not None:
        for path in [*folder.iterdir(), folder]:
            os.utime(path, (mtime, mtime))


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- readiness rules (no Ray) ----------------------------------------------------------------------


def test_config_without_weights_waits_and_trainer_state_is_not_weights(tmp_path: Path) -> None:
    rules = ReadinessRules(settle_s=60, clock=FakeClock(LONG_AGO + 1000))
    write_checkpoint(tmp_path / "c", weights=False)
    (tmp_path / "c" / "optimizer.pt").write_bytes(b"state")
    write_checkpoint(tmp_path / "c", weights=False, mtime=LONG_AGO)
    assert rules.check(tmp_path / "c") == "no weights yet"
    write_checkpoint(tmp_path / "w", config=False, mtime=LONG_AGO)
    assert rules.check(tmp_path / "w") == "no config.json yet"


def test_a_fresh_folder_is_taken_after_its_files_rest_for_the_settle_time(tmp_path: Path) -> None:
    clock = FakeClock(LONG_AGO + 10)
    rules = ReadinessRules(settle_s=60, clock=clock)
    folder = tmp_path / "checkpoint-5"
    write_checkpoint(folder, mtime=LONG_AGO)
    reason = rules.check(folder)
    assert reason is not None and reason.startswith("still being written")
    clock.now = LONG_AGO + 59
    assert rules.check(folder) is not None
    clock.now = LONG_AGO + 60
    assert rules.check(folder) is None


def test_a_write_restarts_the_settle_time(tmp_path: Path) -> None:
    clock = FakeClock(LONG_AGO + 30)
    rules = ReadinessRules(settle_s=60, clock=clock)
    folder = tmp_path / "checkpoint-5"
    write_checkpoint(folder, mtime=LONG_AGO)
    assert rules.check(folder) is not None
    with (folder / "model.safetensors").open("ab") as handle:  # the trainer appends
        handle.write(b"more")
    os.utime(folder / "model.safetensors", (LONG_AGO + 30, LONG_AGO + 30))
    clock.now = LONG_AGO + 61
    assert rules.check(folder) is not None, "taken 31 s after its last write"
    clock.now = LONG_AGO + 90
    assert rules.check(folder) is None


def test_finished_checkpoints_are_taken_at_once(tmp_path: Path) -> None:
    rules = ReadinessRules(settle_s=60, clock=FakeClock(LONG_AGO + 3600))
    write_checkpoint(tmp_path / "checkpoint-1", mtime=LONG_AGO)
    assert rules.check(tmp_path / "checkpoint-1") is None


def test_a_file_copied_in_with_an_old_mtime_still_counts_as_a_change(tmp_path: Path) -> None:
    """`rsync -a` keeps each file's old mtime; the folder's own mtime moves when the file lands."""
    clock = FakeClock(LONG_AGO + 3600)
    rules = ReadinessRules(settle_s=60, clock=clock)
    folder = tmp_path / "checkpoint-1"
    write_checkpoint(folder, mtime=LONG_AGO)
    os.utime(folder, (clock.now - 1, clock.now - 1))
    assert rules.check(folder) is not None
    clock.now += 60
    assert rules.check(folder) is None


def test_a_sharded_checkpoint_waits_for_every_shard_its_index_lists(tmp_path: Path) -> None:
    rules = ReadinessRules(settle_s=60, clock=FakeClock(LONG_AGO + 3600))
    folder = tmp_path / "checkpoint-1"
    write_checkpoint(folder, weights=False)
    shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": shards[0], "b": shards[1]}}))
    (folder / shards[0]).write_bytes(b"\0")
    write_checkpoint(folder, config=False, weights=False, mtime=LONG_AGO)
    assert rules.check(folder) == "1 of 2 weight shards its index lists are missing"
    (folder / shards[1]).write_bytes(b"\0")
    write_checkpoint(folder, config=False, weights=False, mtime=LONG_AGO)
    assert rules.check(folder) is None


def test_an_mtime_ahead_of_this_clock_is_judged_by_what_is_seen(tmp_path: Path) -> None:
    """A file server whose clock runs ahead: its mtimes say nothing, only watching does."""
    clock = FakeClock(LONG_AGO)
    rules = ReadinessRules(settle_s=60, clock=clock)
    write_checkpoint(tmp_path / "c", mtime=LONG_AGO + 600)
    assert rules.check(tmp_path / "c") is not None
    clock.now += 60
    assert rules.check(tmp_path / "c") is None


def test_with_a_marker_file_only_the_marker_counts(tmp_path: Path) -> None:
    rules = ReadinessRules(settle_s=1e9, marker="COMPLETE", clock=FakeClock(time.time()))
    folder = tmp_path / "checkpoint-1"
    write_checkpoint(folder, mtime=LONG_AGO)
    assert rules.check(folder) == "no marker file COMPLETE yet"
    (folder / "COMPLETE").write_text("")
    assert rules.check(folder) is None


def test_the_watcher_hands_each_checkpoint_over_once_and_reports_each_wait_once(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    clock = FakeClock(time.time())
    watcher = CheckpointWatcher([str(run)], ReadinessRules(settle_s=60, clock=clock))
    poll = watcher.poll()
    assert (poll.ready, poll.waiting) == ([], [(str(run), "no checkpoint yet")])
    assert watcher.news(poll) == [f"waiting for {run}: no checkpoint yet"]
    write_checkpoint(run / "checkpoint-100", mtime=LONG_AGO)
    (run / "checkpoint-200").mkdir()
    (run / "logs").mkdir()
    poll = watcher.poll()
    assert [m.id for m in poll.ready] == ["run_checkpoint-100"]
    assert poll.waiting == [(str(run / "checkpoint-200"), "no config.json or weights yet")]
    assert poll.skipped == [(run / "logs", "no config.json or weights")]
    write_checkpoint(run / "checkpoint-200", weights=False)
    poll = watcher.poll()
    assert poll.ready == [] and poll.waiting == [(str(run / "checkpoint-200"), "no weights yet")]
    assert watcher.news(poll) == [f"waiting for {run / 'checkpoint-200'}: no weights yet"]
    assert watcher.news(watcher.poll()) == [], "the same wait was reported twice"


# -- --watch-until ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("5000", UntilStep(5000)),
        (5000, UntilStep(5000)),
        ("final", UntilFolder("final")),
        ("checkpoint-9000", UntilFolder("checkpoint-9000")),
        ("30m", UntilElapsed(1800.0, "30m")),
        ("6h", UntilElapsed(21600.0, "6h")),
        ("1.5d", UntilElapsed(129600.0, "1.5d")),
        ("90s", UntilElapsed(90.0, "90s")),
    ],
)
def test_watch_until_forms(text: object, parsed: object) -> None:
    assert parse_watch_until(text) == parsed
    assert SweepOptions(watch=True, watch_until=text).watch_until == parsed


@pytest.mark.parametrize(
    ("text", "says"),
    [("5x", "unknown unit 'x'"), ("0m", "no time at all"), ("a/b", "not a step"), ("-3", "not a step"), ("", "not a step")],
)
def test_bad_watch_until_is_one_line(text: str, says: str) -> None:
    with pytest.raises(RayevalError) as error:
        Settings.build({"sweep": {"watch": True, "watch_until": text}})
    assert says in str(error.value) and "⟨sweep.watch_until⟩" in str(error.value) and "\n" not in str(error.value)


def test_until_met_by_step_folder_and_time() -> None:
    done = [ModelSpec("r_checkpoint-10", "/r/checkpoint-10", "r", 10, "step"), ModelSpec("r_final", "/r/final", "r")]
    assert until_met(UntilStep(10), done, 0) and not until_met(UntilStep(11), done, 0)
    assert until_met(UntilFolder("final"), done, 0) and not until_met(UntilFolder("best"), done, 0)
    assert until_met(UntilElapsed(60, "1m"), [], 60) and not until_met(UntilElapsed(60, "1m"), done, 59)
    assert not until_met(None, done, 1e9)


def test_only_local_folders_can_be_watched(tmp_path: Path) -> None:
    check_watchable([str(tmp_path)])
    with pytest.raises(RayevalError, match="follows local folders, and 'HuggingFaceTB/SmolLM2-135M-Instruct' is not one"):
        check_watchable(["HuggingFaceTB/SmolLM2-135M-Instruct"])


def test_the_command_line_gives_one_line_for_bad_watch_input(tmp_path: Path) -> None:
    bad_until = rayeval("sweep", str(tmp_path), "--watch", "--watch-until", "6x", "--dry-run")
    hub = rayeval("sweep", "HuggingFaceTB/SmolLM2-135M-Instruct", "--watch", "--dry-run")
    no_watch = rayeval("sweep", str(tmp_path), "--watch-until", "final", "--dry-run")
    for result, says in (
        (bad_until, "error: invalid --watch-until: '6x': unknown unit 'x'"),
        (hub, "error: --watch follows local folders"),
        (no_watch, "error: --watch-until only applies while watching; add --watch"),
    ):
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(says) and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_dry_run_lists_ready_checkpoints_and_waits_for_the_others(tmp_path: Path, shared_data: Path) -> None:
    run = tmp_path / "run"
    write_checkpoint(run / "checkpoint-1", mtime=LONG_AGO)
    write_checkpoint(run / "checkpoint-2", weights=False)
    result = rayeval("sweep", str(run), "--watch", "-b", "ifeval", "--data-dir", str(shared_data), "--limit", "2", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"waiting for {run / 'checkpoint-2'}: no weights yet" in result.stderr
    assert "run_checkpoint-1" in result.stdout and "run_checkpoint-2" not in result.stdout


# -- the watch loop on real Ray -------------------------------------------------------------------


class Notes(SilentProgress):
    """The progress sink of these tests: keeps the lines the sweep prints."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, message: str) -> None:
        self.lines.append(message)


def watch_sweep(
    standin_ray,
    run: Path,
    results: Path,
    shared_data: Path,
    step: Callable[[int], None],
    *,
    settle_s: float = 60.0,
    marker: str | None = None,
    until: object = None,
    poll_s: float = 0.2,
) -> tuple[SweepReport, Notes, int]:
    """A watching sweep of `run`; `step(n)` runs in place of the n-th sleep between polls (the
    test's training job writes there). Returns the report, the printed lines and the sleeps."""
    settings = Settings(run=RunOptions(limit=LIMIT, data_dir=shared_data), sampling=SamplingConfig(max_tokens=8))
    watcher = CheckpointWatcher([str(run)], ReadinessRules(settle_s, marker))
    notes = Notes()
    sleeps = 0

    def sleep(seconds: float) -> None:
        nonlocal sleeps
        sleeps += 1
        assert sleeps < 100, "the watch never ended"
        step(sleeps)
        time.sleep(seconds)

    first = watcher.poll()
    notes.lines += watcher.news(first)
    request = GenerateRequest(models=first.ready, benchmarks=[benchmarks.get("ifeval")], settings=settings)
    store, data = ResultStore(results), DataSource(shared_data)
    layout = EngineLayout(num_engines=1, tp_size=1, use_gpu=False)
    watching = Watching(watcher, parse_watch_until(until), poll_s, sleep=sleep)
    report = run_sweep(
        request, plan_sweep(request, data, store, layout), data, store, layout, notes, standin_ray.sleepy_factory(), watching=watching
    )
    return report, notes, sleeps


def scored(results: Path, model_id: str) -> bool:
    return any(row["metric"] == "prompt_level_strict_acc" for row in ResultStore(results).read_scores(model_id))


def test_a_checkpoint_added_during_watch_is_evaluated_once_its_weights_have_settled(standin_ray, tmp_path: Path, shared_data: Path) -> None:
    run, results = tmp_path / "run", tmp_path / "results"
    write_checkpoint(run / "checkpoint-1", mtime=LONG_AGO)
    new = run / "checkpoint-2"
    weights_written: list[float] = []

    def training(n: int) -> None:
        if n == 1:
            write_checkpoint(new, weights=False)
        elif n == 10:  # 2 s later: longer than the settle time, so a config-only folder would have settled
            write_checkpoint(new, config=False)
            weights_written.append(time.time())

    report, notes, _ = watch_sweep(standin_ray, run, results, shared_data, training, settle_s=1.0, until="2")
    assert weights_written, "taken (and the watch over) before its weights were written"
    assert not report.failures()
    assert [m.id for m in report.models] == ["run_checkpoint-1", "run_checkpoint-2"]
    assert report.taken_at["run_checkpoint-2"] >= weights_written[0] + 1.0, "taken before its weights had settled"
    assert scored(results, "run_checkpoint-1") and scored(results, "run_checkpoint-2")
    assert f"waiting for {new}: no weights yet" in notes.lines
    assert f"waiting for {new}: still being written (taken once its files are unchanged for 1s)" in notes.lines
    assert f"new checkpoint {new} taken as run_checkpoint-2" in notes.lines
    assert notes.lines[-1] == "watch over: a checkpoint at step 2 or later is evaluated"


def test_watch_until_a_step_stops_after_that_step(standin_ray, tmp_path: Path, shared_data: Path) -> None:
    run, results = tmp_path / "run", tmp_path / "results"
    write_checkpoint(run / "checkpoint-1", mtime=LONG_AGO)

    def training(n: int) -> None:
        if n == 1:
            write_checkpoint(run / "checkpoint-2", mtime=LONG_AGO)
            write_checkpoint(run / "checkpoint-3")  # still settling: without the until, the watch would wait for it

    report, _, sleeps = watch_sweep(standin_ray, run, results, shared_data, training, until="2")
    assert [m.id for m in report.models] == ["run_checkpoint-1", "run_checkpoint-2"]
    assert sleeps == 1 and not report.failures()
    assert scored(results, "run_checkpoint-2") and not (results / "run_checkpoint-3").exists()


def test_marker_mode_takes_a_checkpoint_when_its_marker_appears(standin_ray, tmp_path: Path, shared_data: Path) -> None:
    run, results = tmp_path / "run", tmp_path / "results"
    write_checkpoint(run / "checkpoint-1", mtime=LONG_AGO)
    (run / "checkpoint-1" / "COMPLETE").write_text("")
    write_checkpoint(run / "final", mtime=LONG_AGO)
    marked: list[float] = []

    def training(n: int) -> None:
        if n == 3:
            (run / "final" / "COMPLETE").write_text("")
            marked.append(time.time())

    report, notes, _ = watch_sweep(standin_ray, run, results, shared_data, training, settle_s=1e6, marker="COMPLETE", until="final")
    assert [m.id for m in report.models] == ["run_checkpoint-1", "run_final"]
    assert report.taken_at["run_final"] >= marked[0]
    assert f"waiting for {run / 'final'}: no marker file COMPLETE yet" in notes.lines
    assert scored(results, "run_final") and not report.failures()


def test_watching_an_empty_run_folder_ends_after_the_timeout(standin_ray, tmp_path: Path, shared_data: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    started = time.time()
    report, notes, sleeps = watch_sweep(standin_ray, run, tmp_path / "results", shared_data, lambda n: None, until="1s")
    assert report.models == [] and sleeps >= 3
    assert time.time() - started >= 1.0
    assert f"waiting for {run}: no checkpoint yet" in notes.lines and notes.lines[-1] == "watch over: 1s have passed"


def test_ctrl_c_while_watching_finishes_what_was_taken(standin_ray, tmp_path: Path, shared_data: Path) -> None:
    """Ctrl-C arrives as KeyboardInterrupt in the main thread; here it is raised where the watch sleeps."""
    run, results = tmp_path / "run", tmp_path / "results"
    write_checkpoint(run / "checkpoint-1", mtime=LONG_AGO)

    def interrupt(n: int) -> None:
        raise KeyboardInterrupt

    report, notes, _ = watch_sweep(standin_ray, run, results, shared_data, interrupt)
    assert [m.id for m in report.models] == ["run_checkpoint-1"] and not report.failures()
    assert scored(results, "run_checkpoint-1")
    assert notes.lines[-1].startswith("interrupted: finishing the scoring already started")
