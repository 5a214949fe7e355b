"""Checkpoint discovery on real folders: the step patterns of the usual trainers, the order of a
run's checkpoints, unnumbered model folders, and the folders left out (with why)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rayeval.errors import RayevalError
from rayeval.models import (
    HIDDEN,
    NO_CONFIG,
    NO_MODEL,
    NOT_A_FOLDER,
    Discovery,
    discover,
    parse_checkpoint_name,
    resolve_models,
    resolve_models_with_skips,
)


def make_model(folder: Path, config: bool = True, weights: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if config:
        (folder / "config.json").write_text("{}")
    if weights:
        (folder / "model.safetensors").write_bytes(b"")
    return folder


def names(discovery: Discovery) -> list[str]:
    return [Path(m.path).name for m in discovery.models]


def skips(discovery: Discovery) -> list[tuple[str, str]]:
    return [(path.name, reason) for path, reason in discovery.skipped]


@pytest.mark.parametrize(
    "name, step, unit",
    [
        ("checkpoint-500", 500, "step"),
        ("checkpoint_500", 500, "step"),
        ("step-500", 500, "step"),
        ("step_500", 500, "step"),
        ("step500", 500, "step"),
        ("global_step500", 500, "step"),
        ("global_step_500", 500, "step"),
        ("iter_0001000", 1000, "step"),
        ("iter-1000", 1000, "step"),
        ("iter1000", 1000, "step"),
        ("epoch-3", 3, "epoch"),
        ("epoch_3", 3, "epoch"),
        ("Checkpoint-7", 7, "step"),
        ("GLOBAL_STEP8", 8, "step"),
        ("Epoch_2", 2, "epoch"),
        ("step-0", 0, "step"),
    ],
)
def test_each_pattern_is_a_numbered_checkpoint_folder(tmp_path: Path, name: str, step: int, unit: str) -> None:
    assert parse_checkpoint_name(name) == (step, unit)
    run = tmp_path / "run"
    make_model(run / name)
    (spec,) = discover(run).models
    assert (spec.id, spec.run, spec.step, spec.step_unit) == (f"run_{name}", "run", step, unit)
    assert spec.path == str((run / name).resolve())


@pytest.mark.parametrize(
    "name",
    ["final", "best", "checkpoint", "checkpoint-", "checkpoint-1a", "steps-5", "my-step-5", "epoch-3.5", "iteration_5", "step--5", "v1"],
)
def test_other_names_are_not_numbered(name: str) -> None:
    assert parse_checkpoint_name(name) is None


def test_numeric_order_not_name_order(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for name in ("global_step1000", "global_step200", "global_step30", "iter_0000040"):
        make_model(run / name)
    found = discover(run)
    assert names(found) == ["global_step30", "iter_0000040", "global_step200", "global_step1000"]
    assert [m.step for m in found.models] == [30, 40, 200, 1000]
    assert found.skipped == []


def test_same_step_in_two_spellings_is_kept_twice_in_name_order(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for name in ("step_500", "checkpoint-500", "iter_0000500"):
        make_model(run / name)
    found = discover(run)
    assert names(found) == ["checkpoint-500", "iter_0000500", "step_500"]
    assert {m.step for m in found.models} == {500}


def test_steps_first_then_epochs_each_by_number(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for name in ("epoch-10", "epoch-2", "step-300", "checkpoint-20", "epoch_1"):
        make_model(run / name)
    found = discover(run)
    assert names(found) == ["checkpoint-20", "step-300", "epoch_1", "epoch-2", "epoch-10"]
    assert [(m.step, m.step_unit) for m in found.models] == [(20, "step"), (300, "step"), (1, "epoch"), (2, "epoch"), (10, "epoch")]


def test_unnumbered_model_folders_come_last_then_the_run_folder(tmp_path: Path) -> None:
    run = make_model(tmp_path / "run")
    for name in ("step-200", "step-100", "final", "best", "merged-10", "merged-9"):
        make_model(run / name)
    found = discover(run)
    assert [m.id for m in found.models] == [
        "run_step-100",
        "run_step-200",
        "run_best",
        "run_final",
        "run_merged-9",
        "run_merged-10",
        "run",
    ]
    assert [m.step for m in found.models] == [100, 200, None, None, None, None, None]
    assert [m.step_unit for m in found.models] == ["step", "step", None, None, None, None, None]
    assert {m.run for m in found.models} == {"run"}


def test_a_folder_with_weights_but_no_config_holds_a_model(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_model(run / "step_1", config=False)
    make_model(run / "final", config=False)
    assert names(discover(run)) == ["step_1", "final"]


def test_a_checkpoint_being_written_is_still_included(tmp_path: Path) -> None:
    """config.json but no weights yet: the engine fails it and the run goes on."""
    run = tmp_path / "run"
    make_model(run / "checkpoint-100")
    make_model(run / "checkpoint-200", weights=False)
    assert names(discover(run)) == ["checkpoint-100", "checkpoint-200"]


def test_folders_without_a_model_are_skipped_with_the_reason(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_model(run / "checkpoint-100")
    (run / "checkpoint-300").mkdir()  # just created by the trainer: nothing in it yet
    (run / "runs").mkdir()  # tensorboard logs
    (run / "runs" / "events.out.tfevents").write_text("")
    (run / ".ipynb_checkpoints").mkdir()
    make_model(run / ".cache")
    (run / "checkpoint-400").write_text("a file named like a checkpoint")
    (run / "trainer_state.json").write_text("{}")  # the run folder's own files are not candidates
    (run / "notes.txt").write_text("")
    found = discover(run)
    assert names(found) == ["checkpoint-100"]
    assert sorted(skips(found)) == sorted(
        [
            ("checkpoint-300", NO_MODEL),
            ("checkpoint-400", NOT_A_FOLDER),
            ("runs", NO_MODEL),
            (".ipynb_checkpoints", HIDDEN),
            (".cache", HIDDEN),
        ]
    )
    assert all(path.parent == run.resolve() for path, _ in found.skipped)


def test_trainer_state_files_are_not_weights(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_model(run / "checkpoint-100")
    (run / "training_args.bin").write_bytes(b"")  # the run folder saved no final model
    deepspeed = run / "global_step100"  # DeepSpeed's raw states: not loadable
    deepspeed.mkdir()
    for name in ("mp_rank_00_model_states.pt", "zero_pp_rank_0_mp_rank_00_optim_states.pt"):
        (deepspeed / name).write_bytes(b"")
    state = run / "state"
    state.mkdir()
    for name in ("optimizer.pt", "scheduler.pt", "rng_state_0.pth", "scaler.pt"):
        (state / name).write_bytes(b"")
    found = discover(run)
    assert [m.id for m in found.models] == ["run_checkpoint-100"]
    assert sorted(skips(found)) == [("global_step100", NO_MODEL), ("state", NO_MODEL)]


def test_a_single_hf_checkpoint_with_a_deepspeed_subfolder_stays_one_model(tmp_path: Path) -> None:
    """Pointing at one Trainer checkpoint: its `global_stepN/` holds optimizer shards, not a model."""
    ckpt = make_model(tmp_path / "checkpoint-500")
    (ckpt / "global_step500").mkdir()
    (ckpt / "global_step500" / "bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt").write_bytes(b"")
    found = discover(ckpt)
    assert [(m.id, m.run, m.step) for m in found.models] == [("checkpoint-500", None, None)]
    assert skips(found) == [("global_step500", NO_MODEL)]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_folder_is_skipped_with_the_reason(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_model(run / "step-1")
    locked = make_model(run / "step-2")
    locked.chmod(0)
    try:
        found = discover(run)
    finally:
        locked.chmod(0o755)
    assert names(found) == ["step-1"]
    ((name, reason),) = skips(found)
    assert name == "step-2" and reason.startswith("not readable")


def test_no_numbered_model_means_the_old_rules(tmp_path: Path) -> None:
    """Numbered folders that hold nothing do not make a run folder: a model folder stays one model."""
    model = make_model(tmp_path / "model")
    (model / "checkpoint-9").mkdir()
    found = discover(model)
    assert [(m.id, m.run) for m in found.models] == [("model", None)]
    assert skips(found) == [("checkpoint-9", NO_MODEL)]


def test_folder_of_model_folders_records_what_it_left_out(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    for name in ("b-model", "a-model"):
        make_model(zoo / name)
    make_model(zoo / "weights-only", config=False)
    (zoo / "empty").mkdir()
    (zoo / "README.md").write_text("")
    found = discover(zoo)
    assert [m.id for m in found.models] == ["a-model", "b-model"]
    assert skips(found) == [("empty", NO_CONFIG), ("weights-only", NO_CONFIG)]


def test_nothing_to_evaluate_names_the_skipped_checkpoints(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoint-100").mkdir(parents=True)
    with pytest.raises(RayevalError, match=r"neither a model folder.*checkpoint-100: no config.json or weights"):
        discover(run)


def test_resolve_models_with_skips_matches_resolve_models(tmp_path: Path) -> None:
    run = make_model(tmp_path / "My Run")
    make_model(run / "Global_Step50")
    make_model(run / "final")
    (run / "step-60").mkdir()
    found = resolve_models_with_skips([str(run), str(run), "org/hub-model"])
    assert found.models == resolve_models([str(run), "org/hub-model"])
    assert [m.id for m in found.models] == ["My_Run_Global_Step50", "My_Run_final", "My_Run", "hub-model"]
    assert [(m.step, m.step_unit) for m in found.models] == [(50, "step"), (None, None), (None, None), (None, None)]
    assert found.skipped == [((run / "step-60").resolve(), NO_MODEL)]


def test_ids_stay_unique_across_runs(tmp_path: Path) -> None:
    first = tmp_path / "a" / "run"
    second = tmp_path / "b" / "run"
    for run in (first, second):
        make_model(run / "iter_0000010")
    assert [m.id for m in resolve_models([str(first), str(second)])] == ["run_iter_0000010", "run_iter_0000010-2"]
