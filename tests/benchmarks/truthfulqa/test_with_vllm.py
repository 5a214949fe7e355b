"""TruthfulQA through a real vLLM engine on the built-in SmolLM2 model (slow: one engine start).

- The MC1/MC2 and binary log-likelihoods of `run_loglikelihood` are checked against an
  independent computation with `transformers` (same tokens, same log-probs within bf16 noise),
  and all continuations must go through vLLM in one batched call (plus one for any continuation
  a prefix-cache hit reached into).
- Reusing the prefix cache gives the log-likelihoods of recomputing every prompt, also for
  continuations that a cache hit reaches into.
- The whole flow of the plugin (requests -> engine -> generation files -> evaluate) runs on a
  few questions.
"""

from __future__ import annotations

import csv
import json

import pytest

from rayeval.benchmarks.base import EvalContext
from rayeval.benchmarks.truthfulqa.spec import BENCHMARK
from rayeval.data import DataSource
from rayeval.requests import ChatRequest, GenerationResult, LoglikelihoodRequest

pytestmark = pytest.mark.slow

QUESTIONS = 2
# vLLM runs the bf16 checkpoint in bf16 on the CPU; the reference runs it in float32. Measured:
# 0.025 nat per token on average, 0.25 at worst for one token, 0.24 at worst for a whole
# continuation. A wrong token or an off-by-one position costs whole nats.
TOLERANCE = 0.25
TOLERANCE_PER_TOKEN = 0.05


@pytest.fixture(scope="module")
def model_path() -> str:
    from rayeval.builtin_models import builtin_model_path

    return str(builtin_model_path("smollm2"))


@pytest.fixture(scope="module")
def llm(model_path):
    vllm = pytest.importorskip("vllm")
    engine = vllm.LLM(model=model_path, gpu_memory_utilization=0.3, enforce_eager=True, max_model_len=2048)
    yield engine
    engine.llm_engine.engine_core.shutdown()


class RecordingLLM:
    """The real engine, recording what each `generate` call returned."""

    def __init__(self, llm) -> None:
        self._llm = llm
        self.llm_engine = llm.llm_engine
        self.calls: list[list] = []

    def get_tokenizer(self):
        return self._llm.get_tokenizer()

    def generate(self, *args, **kwargs):
        outputs = self._llm.generate(*args, **kwargs)
        self.calls.append(outputs)
        return outputs


@pytest.fixture(scope="module")
def items():
    return BENCHMARK.load_items(DataSource(), BENCHMARK.default_options())[:QUESTIONS]


@pytest.fixture(scope="module")
def scored(llm, items):
    from rayeval.engine.loglikelihood import run_loglikelihood

    requests = [r for r in BENCHMARK.build_requests(items) if isinstance(r, LoglikelihoodRequest)]
    recording = RecordingLLM(llm)
    results = run_loglikelihood(recording, requests)
    return requests, results, recording.calls


@pytest.fixture(scope="module")
def reference_model(model_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path), AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)


def _reference_scores(reference_model, request: LoglikelihoodRequest) -> list[tuple[float, int]]:
    """Sum of continuation log-probs with transformers, float32, tokenised here from scratch."""
    import torch

    tokenizer, model = reference_model
    if request.chat:
        context = tokenizer.apply_chat_template(list(request.context), tokenize=False, add_generation_prompt=True)
        special = False
    else:
        context, special = request.context, True
    # lm-eval's rule: the context's trailing whitespace (the chat template's final newline) is
    # scored as the start of every continuation
    stripped = context.rstrip()
    lead, context = context[len(stripped) :], stripped
    context_ids = tokenizer(context, add_special_tokens=special).input_ids
    scores = []
    for continuation in request.continuations:
        ids = tokenizer(context + lead + continuation, add_special_tokens=special).input_ids
        assert ids[: len(context_ids)] == context_ids  # no token merges across the boundary here
        with torch.no_grad():
            logprobs = model(torch.tensor([ids])).logits[0].log_softmax(-1)
        positions = range(len(context_ids), len(ids))
        scores.append((sum(logprobs[p - 1, ids[p]].item() for p in positions), len(positions)))
    return scores


def test_one_batched_call_for_all_continuations(llm, scored):
    from rayeval.engine.loglikelihood import build_sequences, continuation_computed

    requests, results, calls = scored
    sequences = [seq for per_request in build_sequences(llm.get_tokenizer(), requests, None) for seq in per_request]
    assert [list(out.prompt_token_ids) for out in calls[0]] == [list(seq.token_ids) for seq in sequences]
    assert any(out.num_cached_tokens for out in calls[0])  # the shared primer came from the cache
    # a second call only for the continuations whose cache hit covered their first token's row
    again = [seq for seq, out in zip(sequences, calls[0]) if not continuation_computed(seq, out.num_cached_tokens)]
    assert [[list(out.prompt_token_ids) for out in call] for call in calls[1:]] == (
        [[list(seq.token_ids) for seq in again]] if again else []
    )
    assert [r.key for r in results] == [r.key for r in requests]
    assert [len(r.logprobs) for r in results] == [len(r.continuations) for r in requests]


def test_loglikelihoods_match_transformers(scored, reference_model):
    requests, results, _ = scored
    compared, mismatches = 0, []
    for request, result in zip(requests, results):
        for (expected, n_tokens), got, got_tokens in zip(_reference_scores(reference_model, request), result.logprobs, result.num_tokens):
            compared += 1
            if got_tokens != n_tokens or abs(got - expected) > TOLERANCE + TOLERANCE_PER_TOKEN * n_tokens:
                mismatches.append((request.key, got_tokens, n_tokens, got, expected))
    assert compared == sum(len(r.continuations) for r in requests)
    assert mismatches == []


def test_generate_then_evaluate(llm, items, scored, tmp_path):
    from vllm import SamplingParams

    requests, results, _ = scored
    chats = [r for r in BENCHMARK.build_requests(items) if isinstance(r, ChatRequest)]
    outputs = llm.chat([list(r.messages) for r in chats], SamplingParams(temperature=0.0, max_tokens=chats[0].max_tokens), use_tqdm=False)
    by_key = {r.key: r for r in results}
    for request, output in zip(chats, outputs):
        by_key[request.key] = GenerationResult(request.key, output.outputs[0].text, 0, 0, output.outputs[0].finish_reason)
    BENCHMARK.write_generations(tmp_path, "smollm2", items, by_key)
    scores = {
        s.metric: s.value
        for s in BENCHMARK.evaluate(
            EvalContext(model_id="smollm2", out_dir=tmp_path, data=DataSource(), options=BENCHMARK.default_options())
        )
    }
    with (tmp_path / "results.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["Question"] for row in rows] == [item.data["row"]["Question"] for item in items]
    assert all(row["smollm2"] and row["smollm2"] == row["smollm2"].strip() for row in rows)
    assert all(row["smollm2 bleu acc"] in {"0", "1"} for row in rows)
    per_question = [json.loads(line) for line in (tmp_path / "mc_results.jsonl").read_text().splitlines()]
    assert len(per_question) == QUESTIONS
    assert {"mc1", "mc2", "binary"} <= set(scores)
    assert 0.0 <= scores["mc2"] <= 1.0


@pytest.fixture
def llm_float32(model_path):
    """The model in float32 (the module's engine runs its own bf16): in bf16, the same positions computed
    in differently shaped batches round apart (measured on this machine's Intel Xeon: up to 1.46
    nat per continuation between the two ways below; 0 in float32), which is the kernels' rounding,
    not the method under test; how much depends on the CPU (the bf16 run passed at 1e-4 elsewhere)."""
    vllm = pytest.importorskip("vllm")
    engine = vllm.LLM(model=model_path, gpu_memory_utilization=0.3, enforce_eager=True, max_model_len=2048, dtype="float32")
    yield engine
    engine.llm_engine.engine_core.shutdown()


def test_reusing_prefixes_equals_recomputing(llm_float32):
    """Three questions' MC and binary requests, plus one request whose two continuations share
    their first 300 tokens, so a cache hit reaches into the second one's continuation (whole
    KV blocks: 128 tokens on the CPU, 16 on GPUs) and it must be run again without the cache."""
    from rayeval.engine.loglikelihood import run_loglikelihood, score_recomputing

    llm = llm_float32

    items = BENCHMARK.load_items(DataSource(), BENCHMARK.default_options())[:3]
    shared = " and" * 300
    requests = [
        *(r for r in BENCHMARK.build_requests(items) if isinstance(r, LoglikelihoodRequest)),
        LoglikelihoodRequest(key="long", context="Q: Say it.\nA:", continuations=(shared + " yes", shared + " no")),
    ]
    llm.reset_prefix_cache()
    recording = RecordingLLM(llm)
    reusing = run_loglikelihood(recording, requests)
    assert len(recording.calls) == 2  # run again: at least the long pair's second continuation
    assert any(len(out.prompt_token_ids) > 300 for out in recording.calls[1])
    recomputed = run_loglikelihood(llm, requests, score_recomputing)
    deltas = [abs(a - b) for r, s in zip(reusing, recomputed) for a, b in zip(r.logprobs, s.logprobs)]
    assert len(deltas) == sum(len(r.continuations) for r in requests)
    assert max(deltas) <= 1e-4
