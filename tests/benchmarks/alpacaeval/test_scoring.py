"""AlpacaEval 2 evaluation through the judge pool against a local fake judge (loopback HTTP).

The fake judge (see test_judge_pool.py) prefers the longer of the two outputs it is shown:
with P = 0.8 in its top logprobs, or by ranking it first in a function call. So the expected
preference of every pair follows from the lengths alone — 1.8 / 1.2 (weighted), 2 / 1
(function calling), 1.5 for identical outputs (no call) — whatever order alpaca_eval shows the
outputs in. Reads the AlpacaEval eval set from ../shared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fake_judge_server import SECRET, FakeJudgeServer, closed_port_url
from paths import SHARED

from rayeval.benchmarks import get
from rayeval.benchmarks.alpacaeval.options import AlpacaEvalOptions
from rayeval.benchmarks.base import EvalContext
from rayeval.data import DataSource
from rayeval.judge.config import JudgeConfig
from rayeval.store import ResultStore

N_ITEMS = 6
MODEL_ID = "tiny-model"


def model_output(index: int, baseline: str) -> str:
    """Item 0: identical to the baseline (a draw); odd items: longer (wins); others: shorter."""
    if index == 0:
        return baseline
    return baseline + " And more detail." * 3 if index % 2 else baseline[: max(1, len(baseline) // 3)]


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Any]:
    """A data dir holding the first N_ITEMS of the eval set, and a results folder with outputs."""
    eval_set = json.loads((SHARED / "data/alpacaeval/alpaca_eval.json").read_text())[:N_ITEMS]
    data_dir = tmp_path / "data"
    (data_dir / "alpacaeval").mkdir(parents=True)
    (data_dir / "alpacaeval/alpaca_eval.json").write_text(json.dumps(eval_set))
    out_dir = tmp_path / "results" / MODEL_ID / "alpacaeval2"
    out_dir.mkdir(parents=True)
    outputs = [
        {"instruction": row["instruction"], "output": model_output(i, row["output"]), "generator": MODEL_ID, "dataset": row["dataset"]}
        for i, row in enumerate(eval_set)
    ]
    (out_dir / "model_outputs.json").write_text(json.dumps(outputs))
    return {"data_dir": data_dir, "out_dir": out_dir, "outputs": outputs, "eval_set": eval_set}


def run(ws: dict[str, Any], url: str, annotator: str | None = None, **judge: Any) -> EvalContext:
    options = AlpacaEvalOptions() if annotator is None else AlpacaEvalOptions(annotator=annotator)
    # the judge cache defaults to the results root's, as run_evaluations sets it
    cache_dir = ResultStore(ws["out_dir"].parents[1]).judge_cache_dir()
    settings = {
        "api_base": url,
        "api_key": SECRET,
        "model": "judge",
        "timeout": 5.0,
        "max_retries": 1,
        "backoff_base": 0.05,
        "cache_dir": cache_dir,
        **judge,
    }
    judge_config = JudgeConfig(**settings)
    ctx = EvalContext(
        model_id=MODEL_ID, out_dir=ws["out_dir"], data=DataSource(data_dir=ws["data_dir"]), options=options, judge=judge_config
    )
    ctx.scores = get("alpacaeval2").evaluate(ctx)  # type: ignore[attr-defined]
    return ctx


def annotations(ws: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads((ws["out_dir"] / "annotations.json").read_text())


def leaderboard(ws: dict[str, Any]) -> dict[str, Any]:
    return pd.read_csv(ws["out_dir"] / "leaderboard.csv", index_col=0).loc[MODEL_ID].to_dict()


def expected_preferences(ws: dict[str, Any], win: float, lose: float) -> list[float]:
    prefs = []
    for out, ref in zip(ws["outputs"], ws["eval_set"]):
        if out["output"] == ref["output"]:
            prefs.append(1.5)
        else:
            prefs.append(win if len(out["output"]) > len(ref["output"]) else lose)
    return prefs


def test_weighted_annotator_end_to_end_and_resume(ray_local, workspace, tmp_path: Path) -> None:
    ws = workspace
    with FakeJudgeServer() as server:
        ctx = run(ws, server.url)
        assert server.calls == N_ITEMS - 1  # identical outputs are a draw without a call
        body = server.bodies[0]
        assert body["model"] == "judge" and body["logprobs"] is True and body["top_logprobs"] == 5
        assert body["max_tokens"] == 1 and body["temperature"] == 1
        assert body["messages"][0]["role"] == "system" and "Best Model Identifier" in body["messages"][-1]["content"]

    records = annotations(ws)
    expected = expected_preferences(ws, 1.8, 1.2)
    assert [r["instruction"] for r in records] == [row["instruction"] for row in ws["eval_set"]]
    assert [r["preference"] for r in records] == pytest.approx(expected, abs=1e-9)
    assert {r["annotator"] for r in records} == {"weighted_alpaca_eval_gpt4_turbo"}
    assert all(r["generator_1"] == "gpt4_1106_preview" and r["generator_2"] == MODEL_ID for r in records)
    assert all(r["preference_raw_completion"]["logprobs"] for r in records[1:])

    row = leaderboard(ws)
    wins = [p - 1 for p in expected]
    assert row["win_rate"] == pytest.approx(100 * sum(wins) / len(wins))
    assert row["discrete_win_rate"] == pytest.approx(100 * (sum(p > 0.5 for p in wins) + 0.5 * sum(p == 0.5 for p in wins)) / len(wins))
    assert (row["n_total"], row["n_draws"], row["n_wins"], row["n_wins_base"]) == (6, 1, 3, 2)
    assert row["avg_length"] == int(sum(len(o["output"]) for o in ws["outputs"]) / N_ITEMS)
    assert pd.isna(row["length_controlled_winrate"])
    assert any("length-controlled" in w for w in ctx.warnings)
    scores = {s.metric: s.value for s in ctx.scores}
    assert scores["win_rate"] == pytest.approx(row["win_rate"] / 100)

    # complete annotations.json: a rerun makes no call (the judge is now a closed port)
    run(ws, closed_port_url(), cache_dir=str(tmp_path / "empty-cache"))
    assert annotations(ws) == records

    # partial annotations.json and an empty cache: only the missing pairs are judged
    (ws["out_dir"] / "annotations.json").write_text(json.dumps(records[:3]))
    with FakeJudgeServer() as server:
        run(ws, server.url, cache_dir=str(tmp_path / "fresh-cache"))
        assert server.calls == 3
    assert [r["preference"] for r in annotations(ws)] == pytest.approx(expected, abs=1e-9)

    # no annotations.json but the judge cache of the first run (<results>/.judge_cache): again no call
    (ws["out_dir"] / "annotations.json").unlink()
    assert list((ws["out_dir"].parent.parent / ".judge_cache").rglob("*.json"))
    run(ws, closed_port_url())
    assert [r["preference"] for r in annotations(ws)] == pytest.approx(expected, abs=1e-9)


def test_function_calling_annotator(ray_local, workspace) -> None:
    ws = workspace
    with FakeJudgeServer() as server:
        run(ws, server.url, annotator="alpaca_eval_gpt4_turbo_fn")
        body = server.bodies[0]
    assert body["tools"][0]["function"]["name"] == "make_partial_leaderboard"
    assert body["tool_choice"]["function"]["name"] == "make_partial_leaderboard"
    assert body["temperature"] == 0 and body["max_tokens"] == 100
    records = annotations(ws)
    assert [r["preference"] for r in records] == expected_preferences(ws, 2.0, 1.0)
    assert {r["annotator"] for r in records} == {"alpaca_eval_gpt4_turbo_fn"}
    row = leaderboard(ws)
    assert (row["n_wins"], row["n_wins_base"], row["n_draws"]) == (3, 2, 1)
    assert row["win_rate"] == pytest.approx(100 * 3.5 / 6)


def test_failed_and_unparsable_judgements(ray_local, workspace) -> None:
    """A request failing after the last retry becomes a failure record (retried next run);
    an answer the parser cannot read stays a record without preference (alpaca_eval's rule)."""
    ws = workspace
    broken = ws["eval_set"][1]["instruction"]
    confused = ws["eval_set"][2]["instruction"]

    def script(number: int, body: dict) -> tuple | None:
        prompt = body["messages"][-1]["content"]
        if broken in prompt:
            return ("json", 503, {"error": {"message": "overloaded"}})
        if confused in prompt:
            choice = {"index": 0, "message": {"role": "assistant", "content": "Hmm"}, "finish_reason": "length",
                      "logprobs": {"content": [{"token": "Hmm", "logprob": -0.1, "top_logprobs": [{"token": "Hmm", "logprob": -0.1}]}]}}  # fmt: skip
            return ("json", 200, {"id": "x", "choices": [choice], "usage": {"total_tokens": 3}})
        return None

    with FakeJudgeServer(script) as server:
        ctx = run(ws, server.url)
    records = annotations(ws)
    assert records[1]["preference"] is None and "HTTP 503" in records[1]["judge_error"]
    assert records[2]["preference"] is None and "judge_error" not in records[2]
    assert records[2]["preference_raw_completion"]["text"] == "Hmm"
    assert any("1 of 6 pairs have no judgement" in w for w in ctx.warnings)
    assert leaderboard(ws)["n_total"] == 4

    with FakeJudgeServer() as server:
        run(ws, server.url)
        assert server.calls == 1  # only the failed pair; the unparsable one stands
        assert broken in server.bodies[0]["messages"][-1]["content"]
    records = annotations(ws)
    assert records[1]["preference"] == pytest.approx(1.8) and "judge_error" not in records[1]
    assert leaderboard(ws)["n_total"] == 5
