"""Parity of our TruthfulQA BLEU/ROUGE with the official scorer (reads ../shared).

`../shared/data/truthfulqa-reference/` holds 200 real answers (model column `smollm2-sys`) and
every cell the unmodified official `run_bleu_and_rouge` (t5 metrics, sacrebleu 2.6.0,
rouge-score 0.1.2) produced for them. The test puts the answers in a results folder as
`TruthfulQA_generated.csv`, runs the plugin's `evaluate`, and compares all 200 x 12 cells.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from paths import SHARED

from rayeval.benchmarks.base import EvalContext
from rayeval.benchmarks.truthfulqa.spec import BENCHMARK
from rayeval.benchmarks.truthfulqa.text_metrics import column_names
from rayeval.data import DataSource

REFERENCE = SHARED / "data" / "truthfulqa-reference"
MODEL = "smollm2-sys"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    if not REFERENCE.is_dir():
        pytest.fail(f"{REFERENCE} is missing: the parity test needs ../shared")
    out = tmp_path_factory.mktemp("results") / MODEL / "truthfulqa"
    out.mkdir(parents=True)
    shutil.copy(REFERENCE / "answers.csv", out / "TruthfulQA_generated.csv")
    assert BENCHMARK.generation_done(out)  # answers from elsewhere count as a finished generation
    ctx = EvalContext(model_id=MODEL, out_dir=out, data=DataSource(), options=BENCHMARK.default_options())
    scores = BENCHMARK.evaluate(ctx)
    return out, scores, ctx


def test_all_cells_match_the_official_scorer(evaluated):
    out, _, _ = evaluated
    ours = _read(out / "results.csv")
    expected = _read(REFERENCE / "expected.csv")
    assert len(ours) == len(expected) == 200
    mismatches = []
    for index, (mine, theirs) in enumerate(zip(ours, expected)):
        assert mine["Question"] == theirs["Question"]
        for column in column_names(MODEL):
            if column.endswith(" acc"):
                same = mine[column] == theirs[column]
            else:
                same = abs(float(mine[column]) - float(theirs[column])) <= 1e-9
            if not same:
                mismatches.append((index, column, mine[column], theirs[column]))
    assert mismatches == []


def test_results_csv_keeps_the_generated_columns_in_order(evaluated):
    out, _, _ = evaluated
    with (out / "results.csv").open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    with (REFERENCE / "answers.csv").open(encoding="utf-8", newline="") as handle:
        generated_header = next(csv.reader(handle))
    assert header == generated_header + column_names(MODEL)
    assert _read(out / "results.csv")[5][MODEL] == _read(REFERENCE / "answers.csv")[5][MODEL]


def test_summary_means_are_the_means_of_the_official_cells(evaluated):
    _, scores, ctx = evaluated
    expected = _read(REFERENCE / "expected.csv")
    by_name = {s.metric: s.value for s in scores}
    for metric in ("bleu", "rouge1", "rouge2", "rougeL"):
        for calc in ("max", "diff", "acc"):
            column = [float(row[f"{MODEL} {metric} {calc}"]) for row in expected]
            assert by_name[f"{metric}_{calc}"] == pytest.approx(sum(column) / len(column), abs=1e-9)
    # no log-likelihood file in this folder: MC is reported missing, not invented
    assert not {"mc1", "mc2", "binary"} & set(by_name)
    assert any("mc_loglikelihoods.jsonl" in w for w in ctx.warnings)
