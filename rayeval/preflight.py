"""Checks that need no engine, run by `--dry-run` and again right before any engine starts.

A vLLM engine takes ~30 s (minutes on a big GPU model) to find out that a checkpoint's
`config.json` is not JSON or that a safetensors file was cut short by a full disk; these checks
read only the files (config.json, the safetensors headers, the index of a sharded checkpoint),
without importing torch or vLLM, so the same problems are found in milliseconds and in a dry run.

Two kinds of problem:

- of one checkpoint (`model_problem`): that model's failure, recorded with its reason; the
  other models of the run go on;
- of the run as a whole (`check_cpu_fit`): a `RayevalError`, before anything starts.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rayeval.config import EngineConfig
from rayeval.errors import RayevalError
from rayeval.models import ModelSpec, is_weight_name
from rayeval.options import option_ref

TP, MAX_LEN = option_ref("engine.tp_size"), option_ref("engine.max_model_len")

SAFETENSORS_MAX_HEADER = 100_000_000
"""The safetensors format refuses headers above 100 MB (`MAX_HEADER_SIZE` of the reference
implementation), so a larger length means the file is not safetensors or is damaged."""
HEAD_KEYS = ("num_attention_heads", "n_head", "num_heads")
"""Where Hugging Face configs keep the attention head count (Llama-likes, GPT-2, others)."""
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length")
"""Where Hugging Face configs keep the trained context length, in the order vLLM looks."""
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
"""The shard index a sharded checkpoint saves beside its shards."""


def model_problems(models: Sequence[ModelSpec], engine: EngineConfig) -> dict[str, str]:
    """The models that cannot run, by id, each with its reason (see `model_problem`)."""
    problems = {model.id: model_problem(model, engine) for model in models}
    return {model_id: reason for model_id, reason in problems.items() if reason is not None}


def model_problem(model: ModelSpec, engine: EngineConfig) -> str | None:
    """Why `model` cannot be loaded with `engine`, in one sentence ending with the fix, or None.

    Only local folders are read; hub ids and served models are the engine's to check."""
    folder = Path(model.path)
    if model.api is not None or not folder.is_absolute():
        return None
    if not folder.is_dir():
        return f"{folder} is gone (deleted or moved after it was found); restore it or leave it out"
    try:
        config = _read_config(folder)
        weights = _check_weights(folder)
    except _Problem as problem:
        return f"{folder}: {problem}"
    if not weights:
        return (
            f"{folder}: config.json but no weight files (*.safetensors, *.bin) yet, as while a save is in progress; "
            "wait for the save to finish (sweep --watch waits by itself) or leave the folder out"
        )
    return _engine_mismatch(config, engine)


class _Problem(Exception):
    """A checkpoint problem, in words (caught within this module)."""


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.exists() and not path.is_symlink():
        raise _Problem("no config.json; copy the config.json its trainer saves (or the base model's) into the folder")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _Problem(f"cannot read config.json ({exc.strerror}); check the file and its permissions") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise _Problem(f"config.json is not valid JSON{where}; replace it with the config.json the trainer saves") from None
    if not isinstance(document, dict):
        raise _Problem("config.json is not a JSON object; replace it with the config.json the trainer saves")
    return document


def _check_weights(folder: Path) -> list[Path]:
    """The folder's weight files, each readable and, for safetensors, with a sound header and
    every byte its tensors need; every shard an index lists must be there."""
    weights = sorted(p for p in folder.iterdir() if is_weight_name(p.name))
    for index_name in INDEX_FILES:
        index = folder / index_name
        if index.exists() or index.is_symlink():
            _check_index(index)
    for path in weights:
        if path.name.endswith(".safetensors"):
            _check_safetensors(path)
        else:
            _check_readable(path)
    return weights


def _check_index(index: Path) -> None:
    try:
        shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
    except OSError as exc:
        raise _Problem(f"cannot read {index.name} ({exc.strerror}); check the file and its permissions") from None
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise _Problem(f"{index.name} is not a shard index (JSON with a weight_map); copy it again from where it was saved") from None
    missing = sorted(name for name in shards if not (index.parent / str(name)).is_file())
    if missing:
        raise _Problem(f"{index.name} lists {len(missing)} missing shard(s) ({missing[0]}, ...); copy them, or wait for the save to finish")


def _check_readable(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise _Problem(f"cannot read {path.name} ({exc.strerror}); check the file and its permissions") from None


def _check_safetensors(path: Path) -> None:
    """Header length, header JSON, and file size = 8 + header + the end of the last tensor, as
    the safetensors loader demands (a truncated copy fails here, not 30 s into an engine start)."""
    damaged = f"{path.name} is damaged or truncated"
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise _Problem(f"{damaged} ({size} bytes); copy it again")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > SAFETENSORS_MAX_HEADER or 8 + header_len > size:
                raise _Problem(f"{damaged} (its header claims {header_len} bytes of a {size}-byte file); copy it again")
            header = json.loads(handle.read(header_len).decode("utf-8"))
    except OSError as exc:
        raise _Problem(f"cannot read {path.name} ({exc.strerror}); check the file and its permissions") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _Problem(f"{damaged} (its header is not JSON); copy it again") from None
    try:
        ends = [int(entry["data_offsets"][1]) for name, entry in header.items() if name != "__metadata__"]
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        raise _Problem(f"{damaged} (its header lists no tensor offsets); copy it again") from None
    needed = 8 + header_len + max(ends, default=0)
    if needed != size:
        raise _Problem(f"{damaged}: its tensors need {needed} bytes, the file has {size}; copy it again")


def _first(config: dict[str, Any], keys: Sequence[str]) -> int | None:
    """The first integer under `keys`, in the config or its `text_config` (multimodal models)."""
    for section in (config, config.get("text_config")):
        if isinstance(section, dict):
            for key in keys:
                value = section.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    return value
    return None


def _engine_mismatch(config: dict[str, Any], engine: EngineConfig) -> str | None:
    """Engine settings the model cannot take: a tensor-parallel size that does not divide its
    attention heads, a context length beyond the one it was trained for."""
    heads = _first(config, HEAD_KEYS)
    tp = engine.tp_size
    if heads is not None and heads % tp:
        divisors = ", ".join(str(d) for d in range(1, heads + 1) if heads % d == 0)
        return f"{TP} {tp} does not divide the model's {heads} attention heads; use one of {divisors}"
    context = _first(config, CONTEXT_KEYS)
    scaled = config.get("rope_scaling") or (config.get("text_config") or {}).get("rope_scaling")
    if engine.max_model_len is not None and context is not None and not scaled and engine.max_model_len > context:
        return f"{MAX_LEN} {engine.max_model_len} is longer than the model's context of {context} tokens; pass {MAX_LEN} {context} or less"
    return None


def check_cpu_fit(tp_size: int, node_cpus: Sequence[float]) -> None:
    """On CPUs an engine's tensor-parallel ranks are processes bound to cores of one node: refuse
    a `tp_size` larger than every node's CPU count before anything starts (vLLM would otherwise
    wait for a placement group that can never be granted)."""
    largest = max((int(cpus) for cpus in node_cpus), default=0)
    if tp_size > largest:
        raise RayevalError(f"{TP} {tp_size} needs {tp_size} CPUs on one node but the largest node has {largest}; lower {TP}")


def cluster_node_cpus() -> list[float]:
    """CPUs of each alive node of the connected Ray cluster."""
    import ray

    return [float(node.get("Resources", {}).get("CPU", 0.0)) for node in ray.nodes() if node.get("Alive")]
