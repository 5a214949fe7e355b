"""Score a TruthfulQA results folder: BLEU/ROUGE of the answers and the multiple-choice metrics.

Reads `TruthfulQA_generated.csv` (the input columns plus a column named after the model) and,
when present, `mc_loglikelihoods.jsonl`; writes

- `results.csv`: the generated CSV plus the 12 official columns `<model> <metric> <max|diff|acc>`
  (metric in bleu, rouge1, rouge2, rougeL). `max`/`diff` are written with Python's `repr` (they
  read back exactly), `acc` as 0/1, and a row without an answer has empty cells there;
- `mc_results.jsonl`: per question, MC1 correctness, MC2 score, binary correctness and the
  per-choice log-likelihoods they came from.

When the options name end-to-end judges (`--truthfulqa-judge`, `--truthfulqa-info-judge`; see
`rayeval.benchmarks.truthfulqa.judge`), `results.csv` also gets their official columns
(`<model> GPT-judge`, `<model> GPT-judge acc`, `<model> GPT-info`, `<model> GPT-info acc`), and
`judge_results.jsonl` holds per question the judged answer and each judge's model, score, acc or
`judge_error`. Without them no judge is called.

Missing answers: like the official scorer (which reads the CSV with pandas), an answer that is
empty or exactly a pandas NA string (`NA`, `None`, `nan`, `N/A`, `null`, ...) gets no scores and
drops out of the means; the count is reported as a warning. A row whose `Correct Answers` or
`Incorrect Answers` is missing is skipped the same way (the official scorer warns and skips).

Summary rows: `<metric>_<max|diff|acc>` means over the scored rows (max/diff on the official
0-100 scale, acc as a fraction); with judges, `gpt_judge`/`gpt_info` (mean P(" yes")) and
`gpt_judge_acc`/`gpt_info_acc` over the answers judged, and with both `gpt_true_info`, the share
of answers judged both true and informative (the paper's headline "true*info"); then `mc1`,
`mc2` and `binary` means over the questions that have them.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from rayeval.benchmarks.base import EvalContext, Score
from rayeval.benchmarks.truthfulqa.files import GENERATED, LOGLIKELIHOODS
from rayeval.benchmarks.truthfulqa.judge import INFO, THRESHOLD, TRUTH, Verdict, end2end_prompt, judge_all, judge_models
from rayeval.benchmarks.truthfulqa.multiple_choice import binary_correct, mc1_correct, mc2_score
from rayeval.benchmarks.truthfulqa.options import TruthfulQAOptions
from rayeval.benchmarks.truthfulqa.text_metrics import (
    CALCS,
    METRICS,
    GenerationScorer,
    MetricScores,
    column_names,
    is_missing,
    split_references,
    true_references,
)
from rayeval.errors import RayevalError
from rayeval.files import atomic_write_jsonl, atomic_write_text, read_jsonl

RESULTS = "results.csv"
MC_RESULTS = "mc_results.jsonl"
JUDGE_RESULTS = "judge_results.jsonl"


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
    if answer is None or correct is None or incorrect is None or is_missing(answer) or is_missing(correct) or is_missing(incorrect):
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


def evaluate_generation(ctx: EvalContext[TruthfulQAOptions]) -> list[Score]:
    """BLEU/ROUGE (and the judges asked for) of every answer: writes `results.csv`, returns the
    12 BLEU/ROUGE mean rows and the judges' rows."""
    header, rows = read_generated(ctx.out_dir / GENERATED, ctx.model_id)
    scorer = GenerationScorer()
    scored = [score_row(scorer, row, ctx.model_id) for row in rows]
    judge_columns, judge_cells, judge_scores = evaluate_judges(ctx, rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*header, *column_names(ctx.model_id), *judge_columns])
    for row, scores, extra in zip(rows, scored, judge_cells):
        writer.writerow([*(row.get(column) or "" for column in header), *_cells(scores), *extra])
    atomic_write_text(ctx.out_dir / RESULTS, buffer.getvalue())
    skipped = sum(s is None for s in scored)
    if skipped:
        ctx.warn(
            f"{skipped} of {len(rows)} rows have no answer (empty or an NA string) or no references and are left out of the BLEU/ROUGE means"
        )
    present = [s for s in scored if s is not None]
    return [Score(f"{m}_{c}", _mean([float(getattr(s[m], c)) for s in present])) for m in METRICS for c in CALCS] + judge_scores


def evaluate_judges(ctx: EvalContext[TruthfulQAOptions], rows: list[dict[str, str]]) -> tuple[list[str], list[list[str]], list[Score]]:
    """Run the end-to-end judges the options ask for on the answers of the generated CSV.

    Returns the official column names, their cells per row and the summary rows, and writes
    `judge_results.jsonl`. With no judge asked for: nothing and no call, and an older
    `judge_results.jsonl` is removed so it never disagrees with `results.csv`. The judges run
    one after the other; with pools of their own two in-cluster judges take turns on the same
    GPUs, while the job's judge service (`ctx.judge_service`) keeps each up until the job ends.
    """
    judges = judge_models(ctx.options)
    if not judges:
        (ctx.out_dir / JUDGE_RESULTS).unlink(missing_ok=True)
        return [], [[] for _ in rows], []
    # As the official code: pandas NA answers become "" ("no comment"), then both are stripped.
    questions = [row["Question"].strip() for row in rows]
    answers = ["" if is_missing(row.get(ctx.model_id)) else row[ctx.model_id].strip() for row in rows]
    columns: list[str] = []
    cells: list[list[str]] = [[] for _ in rows]
    records: list[dict[str, Any]] = [{"index": i, "question": q, "answer": a} for i, (q, a) in enumerate(zip(questions, answers))]
    scores: list[Score] = []
    verdicts: dict[str, list[Verdict]] = {}
    for kind, model, api_base in judges:
        prompts = [end2end_prompt(q, a, kind) for q, a in zip(questions, answers)]
        verdicts[kind.tag] = judged = judge_all(kind, model, api_base, prompts, ctx.judge, ctx.judge_service)
        columns += [f"{ctx.model_id} {kind.tag}", f"{ctx.model_id} {kind.tag} acc"]
        for row_cells, record, verdict in zip(cells, records, judged):
            row_cells.extend(verdict.cells())
            record[kind.tag] = verdict.record(model)
        done = [(v.score, float(v.score >= THRESHOLD)) for v in judged if v.score is not None]
        if len(done) < len(judged):
            example = next(v.error for v in judged if v.score is None)
            ctx.warn(
                f"{kind.tag}: {len(judged) - len(done)} of {len(judged)} answers have no judgement (e.g. {example}); "
                "they are left out of the means: run evaluate again to retry them"
            )
        scores += [Score(kind.metric, _mean([score for score, _ in done])), Score(f"{kind.metric}_acc", _mean([acc for _, acc in done]))]
    if TRUTH.tag in verdicts and INFO.tag in verdicts:
        both = [float(t.acc * i.acc) for t, i in zip(verdicts[TRUTH.tag], verdicts[INFO.tag]) if t.acc is not None and i.acc is not None]
        scores.append(Score("gpt_true_info", _mean(both)))
    atomic_write_jsonl(ctx.out_dir / JUDGE_RESULTS, records)
    return columns, cells, scores


def _mc_result(row: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"key": row["key"], "question": row["question"], "mc1": None, "mc2": None, "binary": None}
    mc = row.get("mc")
    if mc is not None:
        logprobs = mc["logprobs"]
        result["mc1"] = mc1_correct([logprobs[c] for c in mc["mc1"]["choices"]], mc["mc1"]["labels"])
        result["mc2"] = mc2_score([logprobs[c] for c in mc["mc2"]["choices"]], mc["mc2"]["labels"])
        labels = dict(zip(mc["mc2"]["choices"], mc["mc2"]["labels"]))
        result["choices"] = [
            {
                "text": c,
                "true": bool(labels.get(c, 0)),
                "in_mc1": c in mc["mc1"]["choices"],
                "logprob": lp,
                "num_tokens": mc["num_tokens"][c],
            }
            for c, lp in logprobs.items()
        ]
    binary = row.get("binary")
    if binary is not None:
        correct_index = ["A", "B"].index(binary["correct"])
        result["binary"] = binary_correct(binary["logprobs"], correct_index)
        result["binary_detail"] = binary
    return result


def evaluate_multiple_choice(ctx: EvalContext[TruthfulQAOptions]) -> list[Score]:
    """MC1/MC2/binary from the stored log-likelihoods: writes `mc_results.jsonl`."""
    path = ctx.out_dir / LOGLIKELIHOODS
    if not path.is_file():
        ctx.warn(f"{path} is missing, so no multiple-choice scores; rerun generation to get them")
        return []
    rows = read_jsonl(path)
    unavailable = next((row["unavailable"] for row in rows if row.get("unavailable")), None)
    if unavailable is not None:
        ctx.warn(f"MC1/MC2/binary are unavailable for this model: {unavailable}")
        return [Score(name, None) for name in ("mc1", "mc2", "binary")]
    results = [_mc_result(row) for row in rows]
    if all(r["mc1"] is None and r["binary"] is None for r in results):
        return []  # generated with truthfulqa_mc off
    atomic_write_jsonl(ctx.out_dir / MC_RESULTS, results)
    scores = []
    for name in ("mc1", "mc2", "binary"):
        values = [float(r[name]) for r in results if r[name] is not None]
        if values:  # the 2022 data has no binary choice
            scores.append(Score(name, _mean(values)))
    return scores


def evaluate_truthfulqa(ctx: EvalContext[TruthfulQAOptions]) -> list[Score]:
    """All TruthfulQA scores of one model's results folder."""
    return evaluate_generation(ctx) + evaluate_multiple_choice(ctx)
