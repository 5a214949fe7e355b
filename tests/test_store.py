"""Result store: atomic writes, the shard journal, manifests and summaries."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rayeval.errors import RayevalError
from rayeval.files import atomic_write_text, read_jsonl
from rayeval.requests import GenerationResult, LoglikelihoodResult
from rayeval.store import ResultStore


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.jsonl"
    atomic_write_text(target, "old\n")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(RayevalError, match=r"cannot write .*out\.jsonl \(disk full\); make room"):
        atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"], "no temporary file may be left behind"


def test_journal_round_trip_and_clear(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    results = [
        GenerationResult(key="1", text="é ✓", prompt_tokens=3, completion_tokens=2, finish_reason="length"),
        LoglikelihoodResult(key="2", logprobs=(-1.5, -0.25), num_tokens=(3, 1)),
    ]
    store.save_shard("m", "ifeval", "abc", results)
    assert store.load_shard("m", "ifeval", "abc") == results
    assert store.load_shard("m", "ifeval", "other") is None
    store.clear_journal("m", "ifeval")
    assert store.load_shard("m", "ifeval", "abc") is None


def test_corrupt_journal_entry_is_redone_not_trusted(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.save_shard("m", "ifeval", "abc", [])
    path = next((tmp_path / "m").rglob("abc.json"))
    path.write_text('[{"kind": ')
    assert store.load_shard("m", "ifeval", "abc") is None


def test_summaries_replace_only_their_benchmark(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.write_scores("m", "ifeval", [{"metric": "a", "value": 0.5}])
    store.write_scores("m", "truthfulqa", [{"metric": "b", "value": 0.25}])
    store.write_scores("m", "ifeval", [{"metric": "a", "value": 0.75}])
    rows = read_jsonl(tmp_path / "summaries" / "m_scores.jsonl")
    assert sorted((r["benchmark"], r["metric"], r["value"]) for r in rows) == [("ifeval", "a", 0.75), ("truthfulqa", "b", 0.25)]


def test_manifest_merges_nested_sections(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.update_manifest("m", {"benchmarks": {"ifeval": {"status": "running"}}, "model": {"id": "m"}})
    store.update_manifest("m", {"benchmarks": {"truthfulqa": {"status": "complete"}}})
    manifest = json.loads((tmp_path / "m" / "run.json").read_text())
    assert manifest["benchmarks"] == {"ifeval": {"status": "running"}, "truthfulqa": {"status": "complete"}}
    assert manifest["model"] == {"id": "m"}


def test_malformed_jsonl_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(RayevalError, match=r"x\.jsonl:2"):
        read_jsonl(path)


def test_unwritable_results_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RayevalError, match="not writable"):
        ResultStore(blocker / "results").check_writable()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_get_the_mode_the_umask_gives_any_new_file(tmp_path: Path, umask: int, mode: int) -> None:
    """A results folder on a shared disk is read by the whole team: the temporary file behind an
    atomic write (0600 from mkstemp) must not make every result private. In a fresh process,
    since the umask is read when `rayeval.files` is imported."""
    target = tmp_path / "out.json"
    code = f"import os; os.umask({umask}); from pathlib import Path; from rayeval.files import atomic_write_text; atomic_write_text(Path({str(target)!r}), 'x')"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert stat.S_IMODE(target.stat().st_mode) == mode
