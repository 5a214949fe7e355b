"""TruthfulQA MC1/MC2/binary log-likelihoods: reusing vLLM's prefix cache against recomputing every prompt.

    .venv/bin/python bench/bench_truthfulqa_mc.py [--quick] [--json PATH] [--questions 40] [--gpu] [--dtype float32]

The first N questions' log-likelihood requests (every MC1/MC2 choice and both binary letters)
run twice on one engine loaded the way rayeval loads it (built-in SmolLM2-135M-Instruct, the
engine's default settings but `--dtype`), with the prefix cache emptied before each run:

1. `score_recomputing`: every (question, choice) prompt computed in full, as before issue 13
   (vLLM does not read its prefix cache for prompt-logprob requests by default);
2. `score_reusing_prefixes`: what `run_loglikelihood` does now (the few-shot primer and each
   question computed once, per choice only what follows them).

Targets: run 1 / run 2 wall time >= 4x; every continuation's log-likelihood within 1e-4 of run
1's; every question's MC1 and binary outcome the same and its MC2 within 1e-4 (through the
benchmark's own files and scorer). Engine load is excluded (the same engine serves both runs).

float32 by default: the two ways compute the same positions in differently shaped batches, and in
the model's own bf16 that rounding alone moves a continuation's log-likelihood by up to 0.54 nat
and a question's MC2 by up to 0.044 (20 questions, measured 2026-12-02 with `--dtype auto`), so
equality to 1e-4 can only be checked where rounding is below it. `--dtype auto` shows the bf16 run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _table import Row, add_table_arguments, emit

SPEEDUP_TARGET = 4.0
LOGLIK_TOLERANCE = 1e-4
QUICK_QUESTIONS = 20
"""--quick: about 2 minutes here (engine load 30-40 s, then both runs)."""


def mc_outcomes(items, results: dict, folder: Path) -> list[dict]:
    """Per question MC1/MC2/binary as the benchmark scores them from its written files."""
    from rayeval.benchmarks.base import EvalContext
    from rayeval.benchmarks.truthfulqa.scoring import MC_RESULTS, evaluate_multiple_choice
    from rayeval.benchmarks.truthfulqa.spec import BENCHMARK
    from rayeval.data import DataSource
    from rayeval.files import read_jsonl
    from rayeval.requests import GenerationResult

    # the generation CSV is written with the log-likelihoods; its answers do not matter here
    answers = {f"gen/{item.key}": GenerationResult(f"gen/{item.key}", "", 0, 0, None) for item in items}
    BENCHMARK.write_generations(folder, "bench", items, {**results, **answers})
    evaluate_multiple_choice(EvalContext(model_id="bench", out_dir=folder, data=DataSource(), options=BENCHMARK.default_options()))
    return read_jsonl(folder / MC_RESULTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_table_arguments(parser)
    parser.add_argument("--questions", type=int, default=40, help="first N questions (790 in all; --quick: 20)")
    parser.add_argument("--gpu", action="store_true", help="run the engine on a GPU (default: vLLM's CPU build)")
    parser.add_argument("--dtype", default="float32", help="the engine's dtype (auto: the model's own, bf16 for SmolLM2)")
    args = parser.parse_args()
    questions = QUICK_QUESTIONS if args.quick else args.questions

    from rayeval.benchmarks.truthfulqa.spec import BENCHMARK
    from rayeval.builtin_models import builtin_model_path
    from rayeval.config import EngineConfig, SamplingConfig
    from rayeval.data import DataSource
    from rayeval.engine.loglikelihood import run_loglikelihood, score_recomputing, score_reusing_prefixes
    from rayeval.engine.vllm_engine import VLLMEngine
    from rayeval.models import ModelSpec
    from rayeval.requests import LoglikelihoodRequest

    items = BENCHMARK.load_items(DataSource(), BENCHMARK.default_options())[:questions]
    requests = [r for r in BENCHMARK.build_requests(items) if isinstance(r, LoglikelihoodRequest)]
    engine = VLLMEngine(EngineConfig(dtype=args.dtype), on_gpu=args.gpu)
    engine.load(ModelSpec(id="smollm2", path=str(builtin_model_path("smollm2"))), SamplingConfig())
    seconds, scored = {}, {}
    try:
        for name, scorer in (("recomputing", score_recomputing), ("reusing prefixes", score_reusing_prefixes)):
            engine.llm.reset_prefix_cache()
            started = time.perf_counter()
            scored[name] = run_loglikelihood(engine.llm, requests, scorer)
            seconds[name] = time.perf_counter() - started
            print(f"{name}: {seconds[name]:.1f} s", flush=True)
    finally:
        engine.unload()

    old, new = scored["recomputing"], scored["reusing prefixes"]
    choices = sum(len(r.logprobs) for r in old)
    delta = max(abs(a - b) for o, n in zip(old, new, strict=True) for a, b in zip(o.logprobs, n.logprobs, strict=True))
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = []
        for name, results in (("old", old), ("new", new)):
            (Path(tmp) / name).mkdir()
            outcomes.append(mc_outcomes(items, {r.key: r for r in results}, Path(tmp) / name))
    flipped = sum(a[m] != b[m] for a, b in zip(*outcomes, strict=True) for m in ("mc1", "binary"))
    mc2_delta = max(abs(a["mc2"] - b["mc2"]) for a, b in zip(*outcomes, strict=True))
    speedup = seconds["recomputing"] / seconds["reusing prefixes"]
    print(f"{questions} questions, {len(requests)} requests, {choices} continuations")
    what = f"{questions} questions, {choices} continuations, {args.dtype}"
    emit(
        [
            Row.at_least(
                f"TruthfulQA MC log-likelihoods: recomputing / reusing prefixes ({what})",
                f"{seconds['recomputing']:.1f} vs {seconds['reusing prefixes']:.1f} s",
                speedup,
                SPEEDUP_TARGET,
            ),
            Row.at_most(
                f"TruthfulQA MC ({args.dtype}): max |delta log-likelihood| over every continuation",
                f"{delta:.2e} nat",
                delta,
                LOGLIK_TOLERANCE,
            ),
            Row(
                name=f"TruthfulQA MC ({args.dtype}): MC1/binary outcomes changed; max |delta MC2| per question",
                measured=f"{flipped} changed; {mc2_delta:.2e}",
                target=f"0; <= {LOGLIK_TOLERANCE:g}",
                ratio=None,
                passed=flipped == 0 and mc2_delta <= LOGLIK_TOLERANCE,
            ),
        ],
        args,
    )


if __name__ == "__main__":
    main()
