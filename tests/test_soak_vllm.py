"""Soak: `rayeval sweep` over three real checkpoints while engines are killed at random moments
and the judge fails 30 % of its requests, compared with the same sweep without faults.

Everything is real but the judge: the `rayeval sweep` command line as a subprocess with its own
local Ray, real vLLM engines (CPU build) on SmolLM2-135M-Instruct, IFEval scored and AlpacaEval 2
judged while later checkpoints still generate (the sweep's pipelined scoring) through the sweep's
one judge service. The judge is `FakeJudgeServer` (tests/fake_judge_server.py), a real HTTP server
on 127.0.0.1, because no real judge model can run here; it fails a seeded 30 % of requests in
every way `FAULTS` lists (429 with and without Retry-After, 500, 503, stalls past the timeout,
dropped connections, malformed JSON, empty `choices`). Reads AlpacaEval's data from ../shared.

Greedy decoding and shards as the batching unit make a run repeatable, so the faulty sweep's
outputs and scores must equal the fault-free sweep's exactly.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_judge_server import SECRET, FakeJudgeServer, RandomFaults
from generate_runs import ENGINE_TITLE, SUMMARY, alive, title

psutil = pytest.importorskip("psutil")  # installed with vLLM

pytestmark = pytest.mark.slow

STEPS = (100, 200, 300)
MODEL_IDS = [f"run_checkpoint-{step}" for step in STEPS]
BENCHMARK_FOLDERS = ("ifeval", "alpacaeval2")
LIMIT = 6
KILLS = 2
"""Engine kills per faulty sweep: each costs a model load (~30 s here); two can land on one shard,
which the scheduler's three attempts per shard still finish."""
SWEEP = [
    "-b", "ifeval,alpacaeval",
    "--limit", str(LIMIT), "--shard-size", "2",  # three shards per pair: room for kills between and inside them
    "--max-tokens", "32",
    "--gpu-mem", "0.2",  # see tests/generate_runs.py: a fifth of the NUMA node for the KV cache and weights
    "--dtype", "float32",  # see tests/generate_runs.py: byte-equal answers across retried shards
    "--judge-model", "judge",
    "--judge-timeout", "1",  # the fake's stalls last 3 s
    "--judge-max-retries", "10",  # 0.3^11: no request fails for good
    "--judge-backoff-base", "0.05", "--judge-backoff-max", "0.2",
]  # fmt: skip


JUDGE_CLOCK = ("preference_date", "preference_time_per_example")
"""The fields of AlpacaEval's annotations that record when and how fast the judge answered (the
only differences between the two sweeps' files, measured)."""


SYSTEM_PROMPTS = {
    100: "You are a helpful AI assistant named SmolLM, trained by Hugging Face",
    200: "You are a terse assistant. Answer in as few words as you can.",
    300: "You are a pirate. Answer every question as a pirate would.",
}
"""Each checkpoint's default system prompt (its chat template's): three checkpoints that answer
differently, so each sends the judge its own requests (identical answers would be judged once and
then come from the judge cache)."""
BUILTIN_SYSTEM_PROMPT = SYSTEM_PROMPTS[100]


def make_run(folder: Path) -> Path:
    """A training run's folder with three checkpoints of the built-in model: links to its files,
    each with its own chat template (`SYSTEM_PROMPTS`)."""
    from rayeval.builtin_models import builtin_model_path

    source = builtin_model_path("smollm2")
    template = (source / "chat_template.jinja").read_text()
    assert BUILTIN_SYSTEM_PROMPT in template
    run = folder / "run"
    for step in STEPS:
        checkpoint = run / f"checkpoint-{step}"
        checkpoint.mkdir(parents=True)
        for item in source.iterdir():
            if item.name == "chat_template.jinja":
                (checkpoint / item.name).write_text(template.replace(BUILTIN_SYSTEM_PROMPT, SYSTEM_PROMPTS[step]))
            else:
                (checkpoint / item.name).symlink_to(item)
    return run


class EngineKiller(threading.Thread):
    """SIGKILLs the engine actor's process `kills` times, each at a random moment inside a shard
    (seeded), waiting for a replacement engine in between; `killed` holds their pids."""

    def __init__(self, driver: subprocess.Popen, kills: int, seed: int = 7) -> None:
        super().__init__(daemon=True)
        self.driver = psutil.Process(driver.pid)
        self.kills = kills
        self.killed: list[int] = []
        self._random = random.Random(seed)
        self._done = threading.Event()

    def _engine_in_a_shard(self) -> psutil.Process | None:
        with contextlib.suppress(psutil.Error):
            for process in self.driver.children(recursive=True):
                name = title(process)
                if name.startswith(ENGINE_TITLE) and "run_shard" in name and process.pid not in self.killed:
                    return process
        return None

    def run(self) -> None:
        while len(self.killed) < self.kills and not self._done.is_set():
            engine = self._engine_in_a_shard()
            if engine is None:
                time.sleep(0.05)
                continue
            time.sleep(self._random.uniform(0.0, 1.0))
            if alive(engine) and "run_shard" in title(engine):
                engine.send_signal(signal.SIGKILL)
                self.killed.append(engine.pid)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)


def sweep(run: Path, results: Path, judge_url: str, shared_data: Path, kills: int) -> tuple[int, str, list[int]]:
    """Run the sweep to its end with `kills` engine kills; (exit code, stderr, killed pids)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "OPENAI_API_KEY")}
    env |= {"COLUMNS": "1000", "RAYEVAL_JUDGE_API_KEY": SECRET}
    log = results.parent / f"{results.name}.stderr.txt"
    command = [sys.executable, "-m", "rayeval", "sweep", str(run), *SWEEP, "--judge-api-base", judge_url]
    command += ["--data-dir", str(shared_data), "--results-dir", str(results)]
    with log.open("w") as stderr:
        driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        killer = EngineKiller(driver, kills)
        killer.start()
        try:
            code = driver.wait(timeout=1500)
        finally:
            killer.stop()
            if driver.poll() is None:
                driver.kill()
    return code, log.read_text(errors="replace"), killer.killed


def outcome(results: Path) -> dict[str, object]:
    """What a sweep produced that must not depend on faults: every output and score file of every
    benchmark folder (bytes; AlpacaEval's annotations without `JUDGE_CLOCK`), and each
    model's summary rows (benchmark, metric, value)."""
    found: dict[str, object] = {}
    for model_id in MODEL_IDS:
        for folder in BENCHMARK_FOLDERS:
            for path in sorted((results / model_id / folder).rglob("*")):
                if path.name == "annotations.json":
                    found[str(path.relative_to(results))] = [
                        {k: v for k, v in row.items() if k not in JUDGE_CLOCK} for row in json.loads(path.read_text())
                    ]
                elif path.is_file():
                    found[str(path.relative_to(results))] = path.read_bytes()
        rows = [json.loads(line) for line in (results / "summaries" / f"{model_id}_scores.jsonl").read_text().splitlines()]
        found[f"summaries/{model_id}"] = sorted((row["benchmark"], row["metric"], row["value"]) for row in rows)
    return found


@pytest.mark.timeout(3600)
def test_a_sweep_with_engine_kills_and_a_30_percent_faulty_judge_equals_a_fault_free_sweep(tmp_path: Path, shared_data: Path) -> None:
    run = make_run(tmp_path)
    with FakeJudgeServer(key=SECRET) as judge:
        code, stderr, _ = sweep(run, tmp_path / "fault-free", judge.url, shared_data, kills=0)
        assert code == 0, stderr[-3000:]
    expected = outcome(tmp_path / "fault-free")
    assert {key.split("/")[1] for key in expected if key.startswith("run_")} == set(BENCHMARK_FOLDERS)
    answers = {expected[f"{model_id}/alpacaeval2/model_outputs.json"] for model_id in MODEL_IDS}
    assert len(answers) == len(STEPS), "the checkpoints must answer differently (see SYSTEM_PROMPTS)"

    faults = RandomFaults(0.3)
    with FakeJudgeServer(faults, key=SECRET) as judge:
        code, stderr, killed = sweep(run, tmp_path / "faulty", judge.url, shared_data, kills=KILLS)
        calls = judge.calls
    assert code == 0, stderr[-3000:]
    assert len(killed) == KILLS, f"only {len(killed)} engine kill(s) landed inside a shard:\n{stderr[-3000:]}"
    assert stderr.count("lost; a replacement joins") == KILLS, stderr[-3000:]
    summary = SUMMARY.search(stderr)
    assert summary and int(summary.group(3)) >= KILLS, "every killed engine's shard is retried"
    print(f"judge: {faults.failed} faults in {calls} calls; {summary.group(0)}")
    # every judgement asked for, and several of them failed first (seed 11 draws 5 faults in the
    # first 23 calls: the realized rate of the 30 % script depends on how many calls there are)
    assert faults.failed >= 4 and calls >= len(STEPS) * LIMIT, f"{faults.failed} faults in {calls} judge calls"
    assert not list((tmp_path / "faulty").rglob(".journal/*/*.json")), "every shard's journal entry is consumed"
    assert outcome(tmp_path / "faulty") == expected
