"""Lint, format and type checks run as part of the test command (so CI runs them), plus the rules
the project keeps about its own code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
CHECKED = ["rayeval", "tests", "bench", "scripts"]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=PROJECT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_is_clean() -> None:
    result = run("ruff", "check", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = run("ruff", "format", "--check", *CHECKED)
    assert result.returncode == 0, "run `ruff format`:\n" + result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_mock_patching_in_the_package() -> None:
    """Production code calls libraries through their APIs; patching belongs in tests."""
    offenders = [
        str(p)
        for p in (PROJECT / "rayeval").rglob("*.py")
        if re.search(r"\bmock\.patch|from unittest import mock", p.read_text(encoding="utf-8"))
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("phase", ["generate", "evaluate", "data", "sweep"])
def test_readme_option_tables_match_the_declarations(phase: str) -> None:
    """The README's option tables are generated from the option models: regenerate them with
    `python -m rayeval.cli_options README.md` after changing an option."""
    from rayeval.cli_options import TABLE_BLOCK, option_table

    blocks = {m.group(2): m.group(3).strip() for m in TABLE_BLOCK.finditer((PROJECT / "README.md").read_text(encoding="utf-8"))}
    assert phase in blocks, f"README.md has no `<!-- options: {phase} -->` table"
    assert blocks[phase] == option_table(phase).strip()  # type: ignore[arg-type]
