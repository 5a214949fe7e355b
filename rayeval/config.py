"""Run settings as validated pydantic models.

Validated up front (a bad value fails before any engine starts) and written into every model's
`run.json` manifest, so a number can always be traced to the settings that produced it.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict, Field

CPU_KV_CACHE_FRACTION = 0.3
"""On vLLM's CPU build `gpu_memory_utilization` is the share of *host* memory for the KV cache;
the GPU default (0.85) does not fit beside everything else on a CPU machine. Every
tensor-parallel rank reserves that share of the same host memory, so the default is split
between the ranks."""


class SamplingConfig(BaseModel):
    """Decoding settings shared by every generation request of a run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, gt=0, description="None: each benchmark's own default")
    seed: int = 0


class EngineConfig(BaseModel):
    """How each vLLM engine is placed and started."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tp_size: int = Field(1, ge=1)
    gpu_memory_utilization: float | None = Field(
        None, gt=0.0, le=1.0, description="None: 0.85 on GPUs, 0.3 of host memory on CPU split between tp ranks"
    )
    max_model_len: int | None = Field(None, gt=0)
    enforce_eager: bool | None = Field(None, description="None: eager on CPU, CUDA graphs on GPU")
    dtype: str = "auto"
    trust_remote_code: bool = False

    def memory_fraction(self, on_gpu: bool) -> float:
        """The fraction passed to vLLM (per rank), defaulting by device kind."""
        if self.gpu_memory_utilization is not None:
            return self.gpu_memory_utilization
        return 0.85 if on_gpu else CPU_KV_CACHE_FRACTION / self.tp_size


def config_hash(*configs: BaseModel) -> str:
    """A short stable hash of settings, used in shard ids so changed settings never reuse work."""
    payload = json.dumps([c.model_dump(mode="json") for c in configs], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
