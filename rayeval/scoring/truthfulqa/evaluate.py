"""Score a TruthfulQA results folder: BLEU/ROUGE of the answers and the multiple-choice metrics.

Reads `TruthfulQA_generated.csv` (the input columns plus a column named after the model) and,
when present, `mc_loglikelihoods.jsonl`; writes

- `results.csv`: the generated CSV plus the 12 official columns `<model> <metric> <max|diff|acc>`
  (metric in bleu, rouge1, rouge2, rougeL). `max`/`diff` are written with Python's `repr` (they
  read back exactly), `acc` as 0/1, and a row without an answer has empty cells there;
- `mc_results.jsonl`: per question, MC1 correctness, MC2 score, binary correctness and the
  per-choice log-likelihoods they came from.

Missing answers: like the official scorer (which reads the CSV with pandas), an answer that is
empty or exactly a pandas NA string (`NA`, `None`, `nan`, `N/A`, `null`, ...) gets no scores and
drops out of the means; the count is reported as a warning. A row whose `Correct Answers` or
`Incorrect Answers` is missing is skipped the same way (the official scorer warns and skips).

Summary rows: `<metric>_<max|diff|acc>` means over the scored rows (max/diff on the official
0-100 scale, acc as a fraction), then `mc1`, `mc2` and `binary` means over the questions that have
them.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from rayeval.benchmarks.base import EvalContext, Score
from rayeval.errors import RayevalError
from rayeval.scoring.truthfulqa.generation import (
    CALCS,
    METRICS,
    GenerationScorer,
    MetricScores,
    column_names,
    is_missing,
    split_references,
    true_references,
)
from rayeval.scoring.truthfulqa.multiple_choice import binary_correct, mc1_correct, mc2_score
from rayeval.store import atomic_write_jsonl, atomic_write_text, read_jsonl

GENERATED = "TruthfulQA_generated.csv"
LOGLIKELIHOODS = "mc_loglikelihoods.jsonl"
RESULTS = "results.csv"
MC_RESULTS = "mc_results.jsonl"


def read_generated(path: Path, model_id: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a generated CSV; the model's answer column must be there."""
    if not path.is_file():
        raise RayevalError(f"{path} is missing; run `rayeval generate -b truthfulqa` for this model first")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = list(reader.fieldnames or [])
    for needed in (model_id, "Correct Answers", "Incorrect Answers"):
        if needed not in header:
            raise RayevalError(f"{path} has no column {needed!r}; regenerate it or pass the model id it was generated with")
    return header, rows


def score_row(scorer: GenerationScorer, row: dict[str, str], model_id: str) -> dict[str, MetricScores] | None:
    """The official triples of one row, or None when the official scorer would skip it."""
    answer, correct, incorrect = row.get(model_id), row.get("Correct Answers"), row.get("Incorrect Answers")
    if is_missing(answer) or is_missing(correct) or is_missing(incorrect):
        return None
    false_refs = split_references(incorrect)
    if not false_refs:
        return None
    return scorer.score(answer, true_references(correct), false_refs)


def _cells(scores: dict[str, MetricScores] | None) -> list[str]:
    if scores is None:
        return [""] * (len(METRICS) * len(CALCS))
    return [repr(getattr(scores[m], c)) if c != "acc" else str(scores[m].acc) for m in METRICS for c in CALCS]


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def evaluate_generation(ctx: EvalContext) -> list[Score]:
    """BLEU/ROUGE of every answer: writes `results.csv`, returns the 12 mean rows."""
    header, rows = read_generated(ctx.out_dir / GENERATED, ctx.model_id)
    scorer = GenerationScorer()
    scored = [score_row(scorer, row, ctx.model_id) for row in rows]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*header, *column_names(ctx.model_id)])
    for row, scores in zip(rows, scored):
        writer.writerow([*(row.get(column) or "" for column in header), *_cells(scores)])
    atomic_write_text(ctx.out_dir / RESULTS, buffer.getvalue())
    skipped = sum(s is None for s in scored)
    if skipped:
        ctx.warn(f"{skipped} of {len(rows)} rows have no answer (empty or an NA string) or no references and are left out of the BLEU/ROUGE means")
    present = [s for s in scored if s is not None]
    return [Score(f"{m}_{c}", _mean([float(getattr(s[m], c)) for s in present])) for m in METRICS for c in CALCS]


def _mc_result(row: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"key": row["key"], "question": row["question"], "mc1": None, "mc2": None, "binary": None}
    mc = row.get("mc")
    if mc is not None:
        logprobs = mc["logprobs"]
        result["mc1"] = mc1_correct([logprobs[c] for c in mc["mc1"]["choices"]], mc["mc1"]["labels"])
        result["mc2"] = mc2_score([logprobs[c] for c in mc["mc2"]["choices"]], mc["mc2"]["labels"])
        labels = dict(zip(mc["mc2"]["choices"], mc["mc2"]["labels"]))
        result["choices"] = [
            {"text": c, "true": bool(labels.get(c, 0)), "in_mc1": c in mc["mc1"]["choices"], "logprob": lp, "num_tokens": mc["num_tokens"][c]}
            for c, lp in logprobs.items()
        ]
    binary = row.get("binary")
    if binary is not None:
        correct_index = ["A", "B"].index(binary["correct"])
        result["binary"] = binary_correct(binary["logprobs"], correct_index)
        result["binary_detail"] = binary
    return result


def evaluate_multiple_choice(ctx: EvalContext) -> list[Score]:
    """MC1/MC2/binary from the stored log-likelihoods: writes `mc_results.jsonl`."""
    path = ctx.out_dir / LOGLIKELIHOODS
    if not path.is_file():
        ctx.warn(f"{path} is missing, so no multiple-choice scores; rerun generation to get them")
        return []
    results = [_mc_result(row) for row in read_jsonl(path)]
    if all(r["mc1"] is None and r["binary"] is None for r in results):
        return []  # generated with truthfulqa_mc off
    atomic_write_jsonl(ctx.out_dir / MC_RESULTS, results)
    scores = []
    for name in ("mc1", "mc2", "binary"):
        values = [float(r[name]) for r in results if r[name] is not None]
        if values:  # the 2022 data has no binary choice
            scores.append(Score(name, _mean(values)))
    return scores


def evaluate_truthfulqa(ctx: EvalContext) -> list[Score]:
    """All TruthfulQA scores of one model's results folder."""
    return evaluate_generation(ctx) + evaluate_multiple_choice(ctx)
