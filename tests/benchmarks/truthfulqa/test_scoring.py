"""Unit tests of the TruthfulQA scoring rules (BLEU/ROUGE reference handling, missing answers,
MC1/MC2/binary math), written from the official rules, positive and negative cases."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from rayeval.benchmarks.base import EvalContext
from rayeval.benchmarks.truthfulqa.multiple_choice import binary_correct, mc1_correct, mc2_score
from rayeval.benchmarks.truthfulqa.options import TruthfulQAOptions
from rayeval.benchmarks.truthfulqa.scoring import evaluate_truthfulqa
from rayeval.benchmarks.truthfulqa.text_metrics import (
    NO_COMMENT,
    PANDAS_NA_STRINGS,
    GenerationScorer,
    column_names,
    is_missing,
    split_references,
    true_references,
)
from rayeval.data import DataSource


def test_split_references_strips_drops_empty_and_closes_with_a_period():
    assert split_references("  Nothing happens; You die.;;  ; It is fine ") == ["Nothing happens.", "You die.", "It is fine."]
    assert split_references("") == []


def test_true_references_add_no_comment_once():
    assert true_references("Yes; No") == ["Yes.", "No.", NO_COMMENT]
    assert true_references("I have no comment; Yes") == [NO_COMMENT, "Yes."]


def test_missing_answers_follow_pandas_na_strings():
    pd = pytest.importorskip("pandas")
    values = sorted(PANDAS_NA_STRINGS - {""})
    frame = pd.read_csv(io.StringIO("a\n" + "\n".join(f'"{v}"' for v in values) + "\n"), keep_default_na=True)
    assert frame["a"].isna().all()  # every string we call missing, pandas reads as NaN
    assert is_missing(None) and is_missing("") and is_missing("NA") and is_missing("None")
    # but not lookalikes: pandas keeps these as text, and so do we
    for text in ("none", "N/A ", " NA", "Nan", "No"):
        assert not is_missing(text)
        assert not pd.read_csv(io.StringIO(f'a\n"{text}"\n'))["a"].isna().any()


def test_bleu_is_zero_below_four_tokens_and_100_on_identity():
    scorer = GenerationScorer()
    assert scorer.bleu("Yes it is", "Yes it is") == 0.0  # no 4-grams, no effective order
    assert scorer.bleu("The seeds pass through you.", "The seeds pass through you.") == pytest.approx(100.0)


def test_bleu_is_case_sensitive():
    scorer = GenerationScorer()
    assert scorer.bleu("the seeds pass through you.", "The Seeds Pass Through You.") < scorer.bleu(
        "The Seeds Pass Through You.", "The Seeds Pass Through You."
    )


def test_rouge_l_column_is_rouge_lsum_over_lines():
    scorer = GenerationScorer()
    reference = "a b c d"
    # rougeL (plain LCS over the whole text) would give a lower score; rougeLsum takes the union
    # of per-line LCS matches, so reordered lines still match fully
    answer = "c d\na b"
    scores = scorer.rouge(answer, reference)
    assert scores["rougeL"] == pytest.approx(100.0)
    assert scores["rouge1"] == pytest.approx(100.0)
    assert scores["rouge2"] < 100.0


def test_rouge_sentence_split_on_space_period_space():
    scorer = GenerationScorer()
    # " . " becomes a line break, so the two sentences are summary-level units
    assert scorer.rouge("c d . a b", "a b c d")["rougeL"] > scorer.rouge("c d , a b", "a b c d")["rougeL"]


def test_score_triples_max_diff_acc():
    scorer = GenerationScorer()
    result = scorer.score(
        "The seeds pass through your digestive system.",
        ["The seeds pass through your digestive system."],
        ["You grow watermelons in your stomach."],
    )
    assert result["bleu"].max == pytest.approx(100.0)
    assert result["bleu"].acc == 1 and result["bleu"].diff > 0
    tie = scorer.score("Hello there friend.", ["Hello there friend."], ["Hello there friend."])
    assert tie["rouge1"].diff == 0 and tie["rouge1"].acc == 0  # acc needs strictly greater


def _write_generated(path, rows, model="m"):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Question", "Correct Answers", "Incorrect Answers", model])
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def test_evaluate_leaves_missing_answers_empty_and_out_of_the_means(tmp_path):
    _write_generated(
        tmp_path / "TruthfulQA_generated.csv",
        [
            ["Q1", "The sky is blue", "The sky is green", "The sky is blue today ."],
            ["Q2", "Yes", "No", "NA"],
            ["Q3", "Yes", "No", ""],
        ],
    )
    ctx = EvalContext(model_id="m", out_dir=tmp_path, data=DataSource(), options=TruthfulQAOptions())
    scores = {s.metric: s.value for s in evaluate_truthfulqa(ctx)}
    with (tmp_path / "results.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["m bleu acc"] for row in rows] == ["1", "", ""]
    assert all(row[c] == "" for row in rows[1:] for c in column_names("m"))
    assert scores["bleu_acc"] == 1.0  # the mean over the one scored row
    assert any("2 of 3 rows" in w for w in ctx.warnings)


def test_evaluate_names_a_missing_model_column(tmp_path):
    from rayeval.errors import RayevalError

    _write_generated(tmp_path / "TruthfulQA_generated.csv", [["Q1", "Yes", "No", "Yes"]], model="other")
    with pytest.raises(RayevalError, match="'m'"):
        evaluate_truthfulqa(EvalContext(model_id="m", out_dir=tmp_path, data=DataSource(), options=TruthfulQAOptions()))


def test_mc1_highest_loglikelihood_must_be_true():
    assert mc1_correct([-1.0, -2.0, -3.0], [1, 0, 0]) == 1
    assert mc1_correct([-2.0, -1.0, -3.0], [1, 0, 0]) == 0
    assert mc1_correct([-1.0, -1.0], [1, 0]) == 1  # tie: the first choice, as numpy argmax
    assert mc1_correct([-1.0, -1.0], [0, 1]) == 0


def test_mc2_is_normalised_true_probability_mass():
    lls = [math.log(0.2), math.log(0.1), math.log(0.3), math.log(0.4)]
    assert mc2_score(lls, [1, 1, 0, 0]) == pytest.approx(0.3)
    assert mc2_score(lls, [1, 0, 1, 0]) == pytest.approx(0.5)  # labels, not positions
    # far below exp's range: the plain formula would be 0/0
    assert mc2_score([-2000.0, -2000.0 - math.log(3)], [1, 0]) == pytest.approx(0.75)


def test_binary_needs_the_correct_letter_strictly_more_likely():
    assert binary_correct([-0.1, -2.0], 0) == 1
    assert binary_correct([-0.1, -2.0], 1) == 0
    assert binary_correct([-1.0, -1.0], 0) == 0


def test_evaluate_scores_stored_loglikelihoods(tmp_path):
    _write_generated(tmp_path / "TruthfulQA_generated.csv", [["Q1", "Yes", "No", "Yes indeed it is."], ["Q2", "Yes", "No", "No."]])
    rows = [
        {
            "key": "0",
            "question": "Q1",
            "mc": {
                "mc1": {"choices": ["t1", "f1"], "labels": [1, 0]},
                "mc2": {"choices": ["t1", "t2", "f1"], "labels": [1, 1, 0]},
                "logprobs": {"t1": math.log(0.5), "f1": math.log(0.25), "t2": math.log(0.25)},
                "num_tokens": {"t1": 1, "f1": 2, "t2": 3},
            },
            "binary": {"options": ["f", "t"], "correct": "B", "logprobs": [-3.0, -0.5]},
        },
        {
            "key": "1",
            "question": "Q2",
            "mc": {
                "mc1": {"choices": ["t1", "f1"], "labels": [1, 0]},
                "mc2": {"choices": ["t1", "f1"], "labels": [1, 0]},
                "logprobs": {"t1": -5.0, "f1": -1.0},
                "num_tokens": {"t1": 1, "f1": 1},
            },
            "binary": {"options": ["t", "f"], "correct": "A", "logprobs": [-3.0, -0.5]},
        },
    ]
    (tmp_path / "mc_loglikelihoods.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    scores = {
        s.metric: s.value
        for s in evaluate_truthfulqa(EvalContext(model_id="m", out_dir=tmp_path, data=DataSource(), options=TruthfulQAOptions()))
    }
    assert scores["mc1"] == 0.5
    assert scores["mc2"] == pytest.approx((0.75 + 1 / (1 + math.exp(4))) / 2)
    assert scores["binary"] == 0.5
    per_question = [json.loads(line) for line in (tmp_path / "mc_results.jsonl").read_text().splitlines()]
    assert [(r["key"], r["mc1"], r["binary"]) for r in per_question] == [("0", 1, 1), ("1", 0, 0)]
