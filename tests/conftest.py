"""Shared fixtures. Tests that read ../shared (the workplace's reference data) say so."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: benchmark data in the --data-dir layout, plus reference outputs."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.fail(f"{path} is missing: these tests read the shared reference data beside the project")
    return path
