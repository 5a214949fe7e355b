"""Data lookup: --data-dir is strict, packaged data is the offline default, the hub is last."""

from __future__ import annotations

from pathlib import Path

import pytest

from rayeval.cli_options import render_refs
from rayeval.data import DataSource, HubFile, sha256_file
from rayeval.errors import RayevalError


def test_packaged_ifeval_is_the_default_and_hashed() -> None:
    data = DataSource()
    path = data.find("ifeval/input_data.jsonl")
    assert "packaged_data" in str(path)
    assert sum(1 for _ in path.open()) == 541
    assert data.used == {str(path): sha256_file(path)}


def test_data_dir_is_strict(tmp_path: Path) -> None:
    (tmp_path / "ifeval").mkdir()
    with pytest.raises(RayevalError, match="missing from ⟨run.data_dir⟩") as error:
        DataSource(tmp_path).find("ifeval/input_data.jsonl")
    assert "missing from --data-dir" in render_refs(str(error.value))  # as the CLI prints it
    with pytest.raises(RayevalError, match="does not exist"):
        DataSource(tmp_path / "nope")


def test_shared_data_dir_is_used_as_given(shared_data: Path) -> None:
    """Reads ../shared/data."""
    path = DataSource(shared_data).find("truthfulqa/TruthfulQA.csv")
    assert path == (shared_data / "truthfulqa" / "TruthfulQA.csv").resolve()


def test_unreachable_hub_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real hub code runs; offline mode makes it fail at once instead of waiting on the network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = DataSource(cache_dir=tmp_path)
    with pytest.raises(RayevalError, match="rayeval data pull"):
        data.find("livebench/math/math_comp/question.jsonl", HubFile(repo_id="livebench/math", filename="question.jsonl"))
