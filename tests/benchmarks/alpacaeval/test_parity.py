"""Parity with the public AlpacaEval 2 leaderboard from published annotations, with no judge call.

Reads ../shared/data/alpacaeval-reference/claude-2/: the real `weighted_alpaca_eval_gpt4_turbo`
annotations of claude-2 and its public leaderboard row, plus the eval set in ../shared/data.
The judge options point at a closed loopback port, so any judge call (even the endpoint check)
would fail the run.
"""

from __future__ import annotations

import csv
import json
import random
import socket
from pathlib import Path

import pytest
from paths import SHARED

from rayeval.benchmarks import get
from rayeval.benchmarks.base import EvalContext
from rayeval.data import DataSource
from rayeval.judge.config import JudgeConfig
from rayeval.store import ResultStore

REFERENCE = SHARED / "data/alpacaeval-reference/claude-2"
COLUMNS = ["win_rate", "standard_error", "n_wins", "n_wins_base", "n_draws", "n_total", "discrete_win_rate", "avg_length"]


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def read_row(path: Path) -> dict[str, str]:
    with path.open(newline="") as handle:
        return next(csv.DictReader(handle))


@pytest.mark.parametrize("model_id, shuffle", [("claude-2", False), ("some-other-name", True)])
def test_reference_row_from_published_annotations(tmp_path: Path, model_id: str, shuffle: bool) -> None:
    records = json.loads((REFERENCE / "annotations.json").read_text())
    if shuffle:  # the order in the file must not matter: results follow the eval set
        random.Random(0).shuffle(records)
    out_dir = tmp_path / "results" / model_id / "alpacaeval2"
    out_dir.mkdir(parents=True)
    (out_dir / "annotations.json").write_text(json.dumps(records))
    bench = get("alpacaeval")
    assert bench.generation_done(out_dir)

    ctx = EvalContext(
        model_id=model_id,
        out_dir=out_dir,
        data=DataSource(data_dir=SHARED / "data"),
        options=bench.default_options(),
        judge=JudgeConfig(api_base=closed_port_url(), api_key="unused", cache_dir=ResultStore(tmp_path / "results").judge_cache_dir()),
    )
    scores = {s.metric: s.value for s in bench.evaluate(ctx)}

    expected = read_row(REFERENCE / "leaderboard_row.csv")
    ours = read_row(out_dir / "leaderboard.csv")
    assert ours[""] == model_id
    for column in COLUMNS:
        assert float(ours[column]) == pytest.approx(float(expected[column]), abs=1e-6), column
    assert scores["win_rate"] == pytest.approx(float(expected["win_rate"]) / 100, abs=1e-8)
    assert scores["n_total"] == 805
    # LC needs the hub's df_gamed.csv, which the data dir lacks: empty, and said so
    assert ours["length_controlled_winrate"] == "" and scores["length_controlled_winrate"] is None
    assert any("length-controlled" in w for w in ctx.warnings)
    assert not (tmp_path / "results" / ".judge_cache").exists()

    eval_order = [row["instruction"] for row in json.loads((SHARED / "data/alpacaeval/alpaca_eval.json").read_text())]
    written = json.loads((out_dir / "annotations.json").read_text())
    assert [r["instruction"] for r in written] == eval_order
