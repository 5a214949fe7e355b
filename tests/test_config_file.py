"""`rayeval --config FILE`: option defaults from YAML, command line wins, bad keys fail clearly.

Runs the real CLI in a subprocess with `--dry-run` (nothing started); the plan table shows the
effective limit and results folder, so the tests read what the command actually used.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from cli_runner import run_rayeval as rayeval

from rayeval.cli import app
from rayeval.config_file import load_default_map
from rayeval.errors import RayevalError
from rayeval.run_file import load_run_file

PROJECT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_config_supplies_defaults_and_the_command_line_wins(tmp_path: Path) -> None:
    config = write(tmp_path, f"benchmarks: [ifeval]\nresults-dir: {tmp_path / 'from-config'}\ngenerate:\n  limit: 5\n")
    from_file = rayeval("--config", str(config), "generate", "org/model", "--dry-run")
    assert from_file.returncode == 0, from_file.stderr
    assert "ifeval (5)" in from_file.stdout and str(tmp_path / "from-config") in from_file.stdout
    assert "truthfulqa" not in from_file.stdout

    overridden = rayeval("--config", str(config), "generate", "org/model", "--dry-run", "--limit", "7")
    assert overridden.returncode == 0, overridden.stderr
    assert "ifeval (7)" in overridden.stdout and "ifeval (5)" not in overridden.stdout


def test_config_from_environment_variable(tmp_path: Path) -> None:
    config = write(tmp_path, "benchmarks: ifeval\ngenerate:\n  limit: 3\n")
    result = rayeval("generate", "org/model", "--dry-run", env={"RAYEVAL_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert "ifeval (3)" in result.stdout


def test_a_section_applies_only_to_its_command(tmp_path: Path) -> None:
    root = typer.main.get_command(app)
    defaults = load_default_map(
        write(tmp_path, "benchmarks: ifeval\nevaluate:\n  judge-rpm: 60\ndata pull:\n  livebench-tasks: math\n"), root
    )
    assert defaults["generate"] == {"benchmarks": "ifeval"}
    assert defaults["evaluate"] == {"benchmarks": "ifeval", "judge_rpm": 60}
    assert defaults["data"]["pull"] == {"benchmarks": "ifeval", "livebench_tasks": "math"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tp-sise: 4\n", "`tp-sise` is neither an option nor a command section"),
        ("evaluate:\n  tp-size: 4\n", "`tp-size` is not an option of `rayeval evaluate`"),
        ("evaluate:\n  judge-api-key: sk-123\n", "is a secret and does not belong in a file; set it in the environment"),
        ("generate: 4\n", "section `generate` must be a mapping"),
        ("- a\n- b\n", "must be a mapping of option names to values"),
        ("generate:\n  limit: [1\n", "is not valid YAML at line"),
    ],
)
def test_bad_config_is_one_line_error_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    result = rayeval("--config", str(write(tmp_path, text)), "generate", "org/model", "--dry-run")
    assert result.returncode == 2
    assert message in result.stderr
    assert "sk-123" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_missing_config_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(RayevalError, match="cannot read config file .*nope.yaml"):
        load_default_map(tmp_path / "nope.yaml", typer.main.get_command(app))


def test_a_wrongly_typed_value_is_rejected_naming_the_file_and_key(tmp_path: Path) -> None:
    result = rayeval("--config", str(write(tmp_path, "generate:\n  limit: many\n")), "generate", "org/model", "--dry-run")
    assert result.returncode == 2
    assert "[generate]: `limit: many`: Input should be a valid integer" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("path", sorted((PROJECT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_load_against_the_cli(path: Path) -> None:
    if path.name.startswith("run-"):  # run files (`rayeval run`), tests/test_run_file.py
        assert load_run_file(path, {"OPENROUTER_API_KEY": "set"}).sections
        with pytest.raises(RayevalError, match=f"is a run file .*; run it with `rayeval run {path}`"):
            load_default_map(path, typer.main.get_command(app))
        return
    defaults = load_default_map(path, typer.main.get_command(app))
    assert defaults, f"{path.name} sets nothing"
