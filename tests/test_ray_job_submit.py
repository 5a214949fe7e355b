"""`ray job submit -- rayeval sweep ...` against a real Ray head started from the project's
environment (`ray start --head`), as on a cluster: the job's command runs with that head's PATH.
Real vLLM (CPU build) and the built-in SmolLM2 model; slow. The head is stopped at the end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from paths import PROJECT

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sweep_submitted_as_a_ray_job(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("RAY_ADDRESS", None)
    gcs, dashboard = free_port(), free_port()
    start = [str(bin_dir / "ray"), "start", "--head", f"--port={gcs}", f"--dashboard-port={dashboard}", "--include-dashboard=true"]
    started = subprocess.run(
        [*start, "--num-cpus=2", "--disable-usage-stats"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=180
    )
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        results = tmp_path / "results"
        command = [
            "rayeval",
            "sweep",
            "builtin:smollm2",
            "-b",
            "ifeval",
            "--limit",
            "4",
            "--max-tokens",
            "32",
            "--results-dir",
            str(results),
        ]
        job = subprocess.run(
            [str(bin_dir / "ray"), "job", "submit", "--address", f"http://127.0.0.1:{dashboard}", "--", *command],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
        assert "sweep: headline metrics" in job.stdout
        rows = [json.loads(line) for line in (results / "summaries" / "SmolLM2-135M-Instruct_scores.jsonl").read_text().splitlines()]
        assert {row["metric"] for row in rows} >= {"prompt_level_strict_acc", "inst_level_loose_acc"}
        assert len((results / "SmolLM2-135M-Instruct" / "ifeval" / "candidate_outputs.jsonl").read_text().splitlines()) == 4
    finally:
        subprocess.run([str(bin_dir / "ray"), "stop", "--force"], env=env, capture_output=True, timeout=120)
