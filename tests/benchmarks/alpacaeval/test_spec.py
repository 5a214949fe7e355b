"""AlpacaEval plugin pieces without a judge server: generation files, the request adapter,
input errors, and the length-controlled win rate when its data file is present.

Reads the eval set and the claude-2 reference annotations from ../shared.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from paths import SHARED

from rayeval.benchmarks import get
from rayeval.benchmarks.alpacaeval.files import load_eval_set
from rayeval.benchmarks.alpacaeval.options import AlpacaEvalOptions
from rayeval.benchmarks.alpacaeval.scoring import PoolCompletions, _length_controlled
from rayeval.benchmarks.base import EvalContext
from rayeval.cli_options import render_refs
from rayeval.data import DataSource
from rayeval.endpoint.client import CallOutcome
from rayeval.errors import RayevalError
from rayeval.judge.config import JudgeConfig
from rayeval.requests import ChatRequest, GenerationResult
from rayeval.store import ResultStore

BENCH = get("alpacaeval2")


def test_generation_writes_model_outputs_in_eval_order(tmp_path: Path) -> None:
    items = BENCH.load_items(DataSource(data_dir=SHARED / "data"), BENCH.default_options())
    assert len(items) == 805 and BENCH.name == "alpacaeval" and BENCH.results_dirname == "alpacaeval2"
    requests = BENCH.build_requests(items[:3])
    assert requests[0] == ChatRequest(
        key=items[0].key, messages=({"role": "user", "content": items[0].data["instruction"]},), max_tokens=2048
    )
    results = {
        r.key: GenerationResult(key=r.key, text=f"answer {r.key}", prompt_tokens=1, completion_tokens=2, finish_reason="stop")
        for r in requests
    }
    BENCH.write_generations(tmp_path, "my-model", items[:3], results)
    written = json.loads((tmp_path / "model_outputs.json").read_text())
    assert written == [
        {"instruction": it.data["instruction"], "output": f"answer {it.key}", "generator": "my-model", "dataset": it.data["dataset"]}
        for it in items[:3]
    ]
    assert BENCH.generation_done(tmp_path)


class RecordingPool:
    """Answers every request with one canned response and remembers the requests."""

    def __init__(self, outcome: CallOutcome) -> None:
        self.outcome = outcome
        self.requests: list[dict] = []

    def complete(self, requests: list[dict]) -> list[CallOutcome]:
        self.requests.extend(requests)
        return [self.outcome for _ in requests]


def test_adapter_turns_chatml_prompts_into_chat_requests() -> None:
    response = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f", "arguments": '{"a": 1}'}}]},
            }
        ],
        "usage": {"total_tokens": 42},
    }
    pool = RecordingPool(CallOutcome(response=response))
    prompt = "  <|im_start|>system\nBe fair.\n<|im_end|>\n<|im_start|>user\nWhich is better?\n<|im_end|>  "
    out = PoolCompletions(pool)(
        [prompt], model_name="gpt-4-1106-preview", max_tokens=100, temperature=0, tools=[{"type": "function"}], num_procs=3
    )
    assert pool.requests == [
        {
            "messages": [{"role": "system", "content": "Be fair."}, {"role": "user", "content": "Which is better?"}],
            "max_tokens": 100,
            "temperature": 0,
            "top_p": 1.0,
            "tools": [{"type": "function"}],
        }
    ]
    assert out["completions"] == ['{"a": 1}'] and out["completions_all"][0]["total_tokens"] == 42


def test_adapter_marks_failures_and_empty_answers() -> None:
    failed = PoolCompletions(RecordingPool(CallOutcome(error="gave up after 7 attempt(s): HTTP 503")))
    out = failed(["<|im_start|>user\nq\n<|im_end|>"], max_tokens=1)
    assert out["completions_all"][0]["judge_error"] == "gave up after 7 attempt(s): HTTP 503"
    assert out["completions"] != [""]  # never a silent empty string
    empty = PoolCompletions(RecordingPool(CallOutcome(response={"choices": [{"message": {"content": ""}}]})))
    assert empty(["<|im_start|>user\nq\n<|im_end|>"])["completions"] == [" "]  # alpaca_eval's rule for ""
    assert empty.pool.requests[0]["temperature"] == 0.7  # alpaca_eval's decoder default


def make_ctx(tmp_path: Path, data_dir: Path, **options) -> EvalContext:
    out_dir = tmp_path / "results" / "m" / "alpacaeval2"
    out_dir.mkdir(parents=True, exist_ok=True)
    judge = JudgeConfig(api_base="http://127.0.0.1:9/v1", cache_dir=ResultStore(tmp_path / "results").judge_cache_dir())
    return EvalContext(model_id="m", out_dir=out_dir, data=DataSource(data_dir=data_dir), options=AlpacaEvalOptions(**options), judge=judge)


def test_input_errors_are_one_line(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, SHARED / "data")
    with pytest.raises(RayevalError, match="no model_outputs.json"):
        BENCH.evaluate(ctx)
    (ctx.out_dir / "model_outputs.json").write_text(json.dumps([{"instruction": "not in the set", "output": "x"}]))
    with pytest.raises(RayevalError, match="not in the AlpacaEval set"):
        BENCH.evaluate(ctx)
    (ctx.out_dir / "model_outputs.json").write_text("[{broken")
    with pytest.raises(RayevalError, match="not valid JSON"):
        BENCH.evaluate(ctx)
    eval_set = json.loads((SHARED / "data/alpacaeval/alpaca_eval.json").read_text())
    (ctx.out_dir / "model_outputs.json").write_text(json.dumps([{"instruction": eval_set[0]["instruction"], "output": "x"}]))
    with pytest.raises(RayevalError, match="unknown ⟨alpacaeval.annotator⟩ 'nope'") as error:
        BENCH.evaluate(make_ctx(tmp_path, SHARED / "data", annotator="nope"))
    assert "unknown --alpacaeval-annotator 'nope'" in render_refs(str(error.value))  # as the CLI prints it


def synthetic_gamed_file(path: Path) -> None:
    """A file in the shape of the hub's df_gamed.csv (two length-gamed baselines × 805 items)
    with made-up numbers: exercises the LC plumbing, not its published values."""
    rng = np.random.default_rng(0)
    difficulty = rng.normal(size=805)
    frames = []
    for model, delta in (("gamed_verbose", 1.0), ("gamed_concise", -1.0)):
        frames.append(
            pd.DataFrame(
                {
                    "model": model,
                    "index": np.arange(805),
                    "preference": np.clip(0.5 + 0.2 * delta + rng.normal(scale=0.2, size=805), 0, 1),
                    "std_delta_len": delta + rng.normal(scale=0.1, size=805),
                    "instruction_difficulty": difficulty,
                    "not_gamed_baseline": False,
                }
            )
        )
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)


def test_length_controlled_win_rate_with_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(SHARED / "data/alpacaeval", data_dir / "alpacaeval")
    synthetic_gamed_file(data_dir / "alpacaeval/df_gamed.csv")
    ctx = make_ctx(tmp_path, data_dir)
    shutil.copy(SHARED / "data/alpacaeval-reference/claude-2/annotations.json", ctx.out_dir / "annotations.json")
    scores = {s.metric: s.value for s in BENCH.evaluate(ctx)}
    assert not any("length-controlled" in w for w in ctx.warnings)
    assert 0.0 < scores["length_controlled_winrate"] < 1.0 and scores["lc_standard_error"] > 0
    row = pd.read_csv(ctx.out_dir / "leaderboard.csv", index_col=0).loc["m"]
    assert row["length_controlled_winrate"] == pytest.approx(100 * scores["length_controlled_winrate"])
    assert row["win_rate"] == pytest.approx(17.188240356708075)
    assert not list((tmp_path).rglob("weights"))  # alpaca_eval's GLM weights are not written anywhere


def test_length_controlled_win_rate_equals_alpaca_eval_own(tmp_path: Path) -> None:
    """Our length-controlled win rate is alpaca_eval's `get_length_controlled_winrate` on the same
    data (that function downloads df_gamed.csv itself: here it is handed the synthetic file)."""
    from alpaca_eval.metrics import glm_winrate

    gamed = tmp_path / "df_gamed.csv"
    synthetic_gamed_file(gamed)
    records = json.loads((SHARED / "data/alpacaeval-reference/claude-2/annotations.json").read_text())
    where = {row["instruction"]: index for index, row in enumerate(load_eval_set(DataSource(data_dir=SHARED / "data")))}
    records = sorted(({**r, "generator_2": "m"} for r in records), key=lambda r: where[r["instruction"]])
    positions = [where[r["instruction"]] for r in records]
    frame = pd.DataFrame(records, index=positions)  # as leaderboard_row builds it

    ours = _length_controlled(frame.copy(), gamed)
    with mock.patch.object(glm_winrate, "hf_hub_download", return_value=str(gamed)) as download:
        theirs = glm_winrate.get_length_controlled_winrate(frame.copy(), save_weights_dir=None, is_add_glm_preference_inplace=False)
    assert download.call_args.kwargs["filename"] == "df_gamed.csv"  # alpaca_eval read the synthetic file
    assert 0.0 < ours["length_controlled_winrate"] < 100.0 and ours["lc_standard_error"] > 0
    assert ours["length_controlled_winrate"] == pytest.approx(theirs["length_controlled_winrate"], rel=1e-9)
    assert ours["lc_standard_error"] == pytest.approx(theirs["lc_standard_error"], rel=1e-9)


def test_annotations_only_folder_uses_records_as_judged(tmp_path: Path) -> None:
    """Published annotations are the record: a baseline text that differs from the eval set's,
    or an instruction outside it, must not trigger judging (the judge is unreachable here)."""
    records = json.loads((SHARED / "data/alpacaeval-reference/claude-2/annotations.json").read_text())
    records[5]["output_1"] = records[5]["output_1"] + " "
    records.append({**records[0], "instruction": "An instruction from elsewhere", "preference": 2.0})
    ctx = make_ctx(tmp_path, SHARED / "data")
    (ctx.out_dir / "annotations.json").write_text(json.dumps(records))
    scores = {s.metric: s.value for s in BENCH.evaluate(ctx)}
    assert scores["n_total"] == 806
    assert any("outside the eval set" in w for w in ctx.warnings)
    written = json.loads((ctx.out_dir / "annotations.json").read_text())
    assert written[-1]["instruction"] == "An instruction from elsewhere" and written[5]["output_1"].endswith(" ")
