"""Checkpoint folders as a trainer leaves them, small enough for tests: a config.json and a
well-formed safetensors file. rayeval's preflight (`rayeval.preflight`) reads both before any
engine starts; the stand-in engines never load them."""

from __future__ import annotations

import json
import struct
from pathlib import Path


def safetensors_bytes() -> bytes:
    """A valid safetensors file holding one 2-float tensor (header padded to 8 bytes, as the
    format's writers do)."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0)


def write_model(folder: Path, config: dict | None = None, weights: bool = True) -> Path:
    """`folder` with a config.json (`config`, default `{}`) and, with `weights`, a model.safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config or {}))
    if weights:
        (folder / "model.safetensors").write_bytes(safetensors_bytes())
    return folder
