"""The CLI's fast paths and its one-line errors (no engines started)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cli_runner import run_rayeval as rayeval


def test_help_imports_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from rayeval.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('vllm', 'torch', 'ray', 'transformers', 'pandas') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
    for command in ("generate", "evaluate", "data"):
        assert command in result.stdout


def test_generate_help_lists_the_replaced_tools_options() -> None:
    result = rayeval("generate", "--help")
    assert result.returncode == 0
    for option in (
        "--tp-size",
        "--gpu-mem",
        "--benchmarks",
        "--skip-existing",
        "--num-engines",
        "--limit",
        "--max-tokens",
        "--temperature",
        "--seed",
        "--results-dir",
        "--data-dir",
        "--address",
        "--dry-run",
    ):
        assert option in result.stdout, option


def test_unknown_benchmark_names_the_available_ones(tmp_path: Path) -> None:
    result = rayeval("generate", "HuggingFaceTB/SmolLM2-135M-Instruct", "-b", "mmlu", "--dry-run")
    assert result.returncode == 2
    assert "benchmark 'mmlu' is not available; choose from:" in result.stderr and "ifeval" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_model_folder_is_one_line_error(tmp_path: Path) -> None:
    result = rayeval("generate", str(tmp_path / "nope" / "a" / "b"), "-b", "ifeval", "--dry-run")
    assert result.returncode == 2
    assert "not an existing folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_missing_data_dir_file_is_one_line_error(tmp_path: Path) -> None:
    result = rayeval("generate", "org/model", "-b", "ifeval", "--dry-run", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "input_data.jsonl is missing from --data-dir" in result.stderr


def test_evaluate_without_results_says_what_to_do(tmp_path: Path) -> None:
    result = rayeval("evaluate", "-b", "ifeval", "--results-dir", str(tmp_path / "none"))
    assert result.returncode == 2
    assert "run `rayeval generate` first" in result.stderr
