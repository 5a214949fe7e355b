"""Model input resolution: the rules of the scripts rayeval replaces, and id safety."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from checkpoints import safetensors_bytes

from rayeval.errors import RayevalError
from rayeval.models import resolve_models, sanitize_id


def make_model(folder: Path, weights: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    if weights:
        (folder / "model.safetensors").write_bytes(safetensors_bytes())
    return folder


def test_checkpoints_in_numeric_order_then_final(tmp_path: Path) -> None:
    run = make_model(tmp_path / "run")
    for step in (100, 20, 3):
        make_model(run / f"checkpoint-{step}")
    specs = resolve_models([str(run)])
    assert [s.id for s in specs] == ["run_checkpoint-3", "run_checkpoint-20", "run_checkpoint-100", "run"]
    assert [s.step for s in specs] == [3, 20, 100, None]
    assert {s.run for s in specs} == {"run"}


def test_step_folders_without_final_weights(tmp_path: Path) -> None:
    run = tmp_path / "train"
    for step in (1000, 500):
        make_model(run / f"step-{step}")
    (run / "notes.txt").write_text("not a model")
    assert [s.id for s in resolve_models([str(run)])] == ["train_step-500", "train_step-1000"]


def test_single_model_folder(tmp_path: Path) -> None:
    specs = resolve_models([str(make_model(tmp_path / "my-model"))])
    assert [(s.id, Path(s.path).name) for s in specs] == [("my-model", "my-model")]


def test_folder_of_model_folders(tmp_path: Path) -> None:
    for name in ("b-model", "a-model", "model-10", "model-9"):
        make_model(tmp_path / "zoo" / name)
    (tmp_path / "zoo" / "empty").mkdir()
    assert [s.id for s in resolve_models([str(tmp_path / "zoo")])] == ["a-model", "b-model", "model-9", "model-10"]


def test_hub_repo_id() -> None:
    specs = resolve_models(["HuggingFaceTB/SmolLM2-135M-Instruct"])
    assert [(s.id, s.path) for s in specs] == [("SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct")]


def test_unrecognised_input_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RayevalError, match="neither a model folder"):
        resolve_models([str(tmp_path / "empty")])
    with pytest.raises(RayevalError, match="not an existing folder"):
        resolve_models([str(tmp_path / "missing" / "x" / "y")])
    with pytest.raises(RayevalError, match="is a file"):
        (tmp_path / "file.txt").write_text("")
        resolve_models([str(tmp_path / "file.txt")])


@pytest.mark.parametrize(
    "raw, expected", [("a/b", "a_b"), ("..", "_"), (".hidden", "hidden"), ("x/../y", "x___y"), ("ok-id_1.5", "ok-id_1.5")]
)
def test_ids_are_safe_path_components(raw: str, expected: str) -> None:
    cleaned = sanitize_id(raw)
    assert cleaned == expected
    assert "/" not in cleaned and ".." not in cleaned and not cleaned.startswith(".")


def test_ids_are_unique_and_duplicates_dropped(tmp_path: Path) -> None:
    first = make_model(tmp_path / "a" / "model")
    second = make_model(tmp_path / "b" / "model")
    specs = resolve_models([str(first), str(second), str(first)])
    assert [s.id for s in specs] == ["model", "model-2"]


def test_dry_run_lists_checkpoints_in_order(tmp_path: Path) -> None:
    """The acceptance check of the foundation issue, through the real CLI."""
    run = make_model(tmp_path / "DIR")
    for step in (100, 20, 3):
        make_model(run / f"checkpoint-{step}")
    result = subprocess.run(
        [sys.executable, "-m", "rayeval", "generate", str(run), "--dry-run", "-b", "ifeval", "--results-dir", str(tmp_path / "results")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    order = [result.stdout.index(f"{name} ") for name in ("DIR_checkpoint-3", "DIR_checkpoint-20", "DIR_checkpoint-100")]
    assert order == sorted(order)
    assert result.stdout.index("DIR_checkpoint-100 ") < result.stdout.rindex("│ DIR ")
    assert "ifeval (541)" in result.stdout
    assert not (tmp_path / "results").exists(), "a dry run must write nothing"


def test_an_api_url_with_credentials_is_refused_without_echoing_them() -> None:
    from rayeval.models import api_model

    with pytest.raises(RayevalError) as caught:
        api_model("openai:org/m@https://user:SECRETKEY@host/v1")
    message = str(caught.value)
    assert "SECRETKEY" not in message and "user" not in message
    assert "credentials" in message and "host/v1" in message
    spec = api_model("openai:org/m@http://localhost:8000/v1")
    assert spec.api is not None and (spec.api.model, spec.api.base_url, spec.id) == ("org/m", "http://localhost:8000/v1", "m")
