"""Tensor parallelism with real vLLM (CPU build) inside an engine actor on a real local Ray.

SmolLM2-135M has 9 attention heads, which tp 2 cannot split, so this builds a tiny Llama with
random weights (4 heads of dim 64 — vLLM's CPU attention needs that —, 2 KV heads, 2 layers) and SmolLM2's tokenizer: its output is noise,
which is fine — the test is about placement and vLLM's multiprocessing tp inside the actor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rayeval.files import read_jsonl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from rayeval.builtin_models import builtin_model_path

    tokenizer = AutoTokenizer.from_pretrained(str(builtin_model_path("smollm2")))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "tiny-llama"
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_tp2_engine_generates_in_order(tiny_llama: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rayeval",
            "generate",
            str(tiny_llama),
            "--tp-size",
            "2",
            "-b",
            "ifeval",
            "--limit",
            "3",
            "--max-tokens",
            "8",
            "--max-model-len",
            "1024",
            "--results-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_jsonl(tmp_path / "tiny-llama" / "ifeval" / "candidate_outputs.jsonl")
    assert len(rows) == 3
    manifest = json.loads((tmp_path / "tiny-llama" / "run.json").read_text())
    assert manifest["generation"]["layout"] == {"num_engines": 1, "tp_size": 2, "gpu": False}
    assert manifest["benchmarks"]["ifeval"]["status"] == "complete"
