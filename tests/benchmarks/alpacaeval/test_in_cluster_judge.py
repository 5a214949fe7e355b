"""End to end: AlpacaEval judged by the in-cluster judge — vLLM's OpenAI-compatible server
started by the judge pool on its own placement group in a local Ray — with the real SmolLM2
model (built into rayeval's cache on first use). Three items via a limited eval set read from
../shared. SmolLM2 is no GPT-4: the test checks the plumbing (placement, server, logprob
requests, records, leaderboard), not the judgements.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from paths import SHARED

from rayeval.benchmarks import get
from rayeval.benchmarks.base import EvalContext
from rayeval.data import DataSource
from rayeval.judge.config import JudgeConfig
from rayeval.store import ResultStore

N_ITEMS = 3


@pytest.mark.slow
def test_in_cluster_smollm2_judge(tmp_path: Path) -> None:
    import ray

    from rayeval.builtin_models import builtin_model_path

    judge_path = str(builtin_model_path("smollm2"))
    eval_set = json.loads((SHARED / "data/alpacaeval/alpaca_eval.json").read_text())[:N_ITEMS]
    data_dir = tmp_path / "data"
    (data_dir / "alpacaeval").mkdir(parents=True)
    (data_dir / "alpacaeval/alpaca_eval.json").write_text(json.dumps(eval_set))
    out_dir = tmp_path / "results" / "short-answers" / "alpacaeval2"
    out_dir.mkdir(parents=True)
    outputs = [
        {"instruction": r["instruction"], "output": r["output"][:200], "generator": "short-answers", "dataset": r["dataset"]}
        for r in eval_set
    ]
    (out_dir / "model_outputs.json").write_text(json.dumps(outputs))

    ray.init(address="local", num_cpus=2, include_dashboard=False)
    try:
        ctx = EvalContext(
            model_id="short-answers",
            out_dir=out_dir,
            data=DataSource(data_dir=data_dir),
            options=get("alpacaeval").default_options(),
            judge=JudgeConfig(
                model=judge_path,
                tp=1,
                concurrency=2,
                timeout=300,
                max_retries=2,
                cache_dir=ResultStore(tmp_path / "results").judge_cache_dir(),
            ),
        )
        scores = {s.metric: s.value for s in get("alpacaeval").evaluate(ctx)}
        groups = ray.util.placement_group_table().values()
        assert groups and all(group["state"] == "REMOVED" for group in groups)  # the judge's group was given back
    finally:
        ray.shutdown()

    records = json.loads((out_dir / "annotations.json").read_text())
    assert [r["instruction"] for r in records] == [r["instruction"] for r in eval_set]
    for record in records:
        assert "judge_error" not in record, record.get("judge_error")
        raw = record["preference_raw_completion"]
        assert raw["logprobs"]["content"][0]["top_logprobs"], raw  # vLLM answered with logprobs
        assert record["preference"] is None or 1.0 <= record["preference"] <= 2.0
    row = pd.read_csv(out_dir / "leaderboard.csv", index_col=0).loc["short-answers"]
    assert row["n_total"] == sum(r["preference"] is not None for r in records)
    assert scores["avg_length"] == 200
    # the cache makes a rerun free: no server is started (it would take many seconds)
    ctx.judge = ctx.judge.model_copy(update={"server_start_timeout": 0.001})
    (out_dir / "annotations.json").unlink()
    get("alpacaeval").evaluate(ctx)
    assert json.loads((out_dir / "annotations.json").read_text())[0]["preference_raw_completion"] == records[0]["preference_raw_completion"]
