"""A realistic results folder for the report's tests, built from the shared reference outputs
(reads ../shared): a base model, three checkpoints of one training run and one API model.

Every model's outputs are the same real reference outputs with a different share of items
degraded (a deterministic choice per item), so scores differ between models and rise with the
step, by amounts both within and beyond noise: IFEval GPT-4 responses (degraded: empty
response), TruthfulQA SmolLM2 answers (improved: the best answer instead), AlpacaEval 2 claude-2
annotations (degraded: the baseline wins), LiveBench reference answers of four quick tasks
(degraded: empty answer). They are scored by the real scorers (`evaluation._score`, the body of
the Ray scoring task, in-process) and recorded as the evaluation runner records them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from paths import SHARED

from rayeval import benchmarks
from rayeval.evaluation import _score, record_scores
from rayeval.files import atomic_write_json, atomic_write_jsonl, atomic_write_text, read_jsonl
from rayeval.judge.config import JudgeConfig
from rayeval.models import ModelSpec
from rayeval.store import ResultStore

DATA = SHARED / "data"
LIVEBENCH_TASKS = ("reasoning/web_of_lies_v2", "reasoning/zebra_puzzle", "data_analysis/cta", "math/math_comp")
"""Reference tasks whose scoring takes seconds (AMPS_Hard's sympy parses take minutes)."""

RUN = "sft"
BASE = "SmolLM2-base"
API = "gpt-4-api"
CHECKPOINTS = {f"{RUN}_checkpoint-{step}": step for step in (100, 200, 300)}
QUALITY = {BASE: 0.55, f"{RUN}_checkpoint-100": 0.70, f"{RUN}_checkpoint-200": 0.86, f"{RUN}_checkpoint-300": 0.88, API: 1.0}
"""Share of items that keep the reference output; 200 → 300 is a small step (within noise on
most metrics), base → 100 a large one."""
TRUTHFUL_BEST = {BASE: 0.0, f"{RUN}_checkpoint-100": 0.1, f"{RUN}_checkpoint-200": 0.25, f"{RUN}_checkpoint-300": 0.27, API: 0.6}
"""Share of TruthfulQA answers replaced by the question's best answer."""


def kept(model_id: str, item: str, share: float) -> bool:
    """Deterministic per (model, item): True for about `share` of the items, nested across
    models (an item kept at a lower share is kept at every higher one)."""
    draw = int(hashlib.sha256(item.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return draw < share


def model_entry(model_id: str) -> dict:
    if model_id in CHECKPOINTS:
        return ModelSpec(
            id=model_id, path=f"/ckpts/{RUN}/checkpoint-{CHECKPOINTS[model_id]}", run=RUN, step=CHECKPOINTS[model_id], step_unit="step"
        ).manifest()
    if model_id == API:
        endpoint = {"base_url": "https://api.example/v1", "model": "gpt-4", "api_key_env": "OPENAI_API_KEY"}
        return {"id": API, "path": "openai:gpt-4@https://api.example/v1", "run": None, "step": None, "step_unit": None, "api": endpoint}
    return ModelSpec(id=model_id, path=f"/ckpts/{model_id}").manifest()


def write_outputs(store: ResultStore, model_id: str) -> None:
    share = QUALITY[model_id]
    store.update_manifest(model_id, {"model": model_entry(model_id), "sampling": {"temperature": 0.0, "max_tokens": 1024}})
    ifeval = read_jsonl(DATA / "ifeval/reference/gpt4_responses.jsonl")
    atomic_write_jsonl(
        store.benchmark_dir(model_id, "ifeval") / "candidate_outputs.jsonl",
        ({"prompt": r["prompt"], "response": r["response"] if kept(model_id, f"if{i}", share) else ""} for i, r in enumerate(ifeval)),
    )
    with (DATA / "truthfulqa-reference/answers.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*list(rows[0])[:-1], model_id])
    for i, row in enumerate(rows):
        answer = row["Best Answer"] if kept(model_id, f"tq{i}", TRUTHFUL_BEST[model_id]) else row["smollm2-sys"]
        writer.writerow([*list(row.values())[:-1], answer])
    atomic_write_text(store.benchmark_dir(model_id, "truthfulqa") / "TruthfulQA_generated.csv", buffer.getvalue())
    annotations = json.loads((DATA / "alpacaeval-reference/claude-2/annotations.json").read_text(encoding="utf-8"))
    for i, record in enumerate(annotations):
        record["generator_2"] = model_id
        if not kept(model_id, f"ae{i}", share):
            record["preference"] = 1.0
    atomic_write_json(store.benchmark_dir(model_id, "alpacaeval2") / "annotations.json", annotations)
    for task in LIVEBENCH_TASKS:
        answers = read_jsonl(DATA / "livebench-reference" / task / "model_answer.jsonl")
        for answer in answers:
            if not kept(model_id, f"lb{answer['question_id']}", share):
                answer["choices"][0]["turns"] = [""]
        atomic_write_jsonl(store.benchmark_dir(model_id, "livebench") / task / "model_answer.jsonl", answers)


def build_results(root: Path) -> ResultStore:
    """Write and score every model's outputs under `root`."""
    store = ResultStore(root)
    judge = JudgeConfig(cache_dir=store.judge_cache_dir())
    for model_id in QUALITY:
        write_outputs(store, model_id)
        for name in ("ifeval", "truthfulqa", "alpacaeval", "livebench"):
            bench = benchmarks.get(name)
            options = bench.default_options()
            scores, _, _ = _score(name, model_id, store.benchmark_dir(model_id, bench.results_dirname), DATA, options, judge, None, None)
            record_scores(store, model_id, name, scores)
    return store
