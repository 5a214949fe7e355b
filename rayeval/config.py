"""Run, sampling, engine and sweep settings as typed options (see `rayeval.options`).

Validated up front (a bad value fails before any engine starts) and written into every model's
`run.json` manifest, so a number can always be traced to the settings that produced it. Sampling
and engine settings are hashed into shard ids: changed settings never reuse earlier work.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, model_validator

from rayeval.options import ALL_PHASES, GENERATE, GENERATE_EVALUATE, SWEEP, OptionsModel, comma_list, option, option_ref
from rayeval.watch import WatchUntil, parse_watch_until

CPU_KV_CACHE_FRACTION = 0.3
"""On vLLM's CPU build `gpu_memory_utilization` is the share of *host* memory for the KV cache;
the GPU default (0.85) does not fit beside everything else on a CPU machine. Every
tensor-parallel rank reserves that share of the same host memory, so the default is split
between the ranks."""
GPU_MEMORY_FRACTION = 0.85
"""The GPU default: a little under vLLM's own 0.9, leaving room for other CUDA users of the same
GPUs. Not measured here (these machines have no GPU)."""


class RunOptions(OptionsModel):
    """What to run and where: benchmarks, folders, cluster, and the size of the run."""

    benchmarks: Annotated[list[str] | None, BeforeValidator(comma_list)] = option(
        None, description="Comma-separated benchmarks [default: every registered benchmark].", phases=ALL_PHASES
    )
    results_dir: Path = option(Path("results"), description="Where results are written.", phases=(*GENERATE_EVALUATE, "report"))
    data_dir: Path | None = option(
        None,
        description="Benchmark data in the layout of the README [default: packaged data, else the Hugging Face hub (cached)].",
        phases=GENERATE_EVALUATE,
    )
    address: str | None = option(
        None, description="Ray address [default: RAY_ADDRESS, else a local Ray is started].", phases=GENERATE_EVALUATE
    )
    skip_existing: bool = option(
        False,
        description="Skip model/benchmark pairs that are done (generate: outputs exist; evaluate: summary rows exist).",
        phases=GENERATE_EVALUATE,
    )
    limit: int | None = option(
        None, description="Only the first N prompts of each benchmark (smoke runs; evaluate then scores those N).", phases=GENERATE, ge=1
    )
    num_engines: int | None = option(
        None, description="Engines to start [default: fill the cluster's GPUs; 1 on a CPU-only cluster].", phases=GENERATE, ge=1
    )
    shard_size: int | None = option(None, description="Prompts per shard [default: automatic, 16–1024].", phases=GENERATE, ge=1)
    dry_run: bool = option(False, description="Print the plan and start nothing.", phases=GENERATE)


class SamplingConfig(OptionsModel):
    """Decoding settings shared by every generation request of a run."""

    temperature: float = option(0.0, description="Sampling temperature (0: greedy).", phases=GENERATE, ge=0.0)
    top_p: float = option(
        1.0, description="Nucleus sampling: keep the smallest token set with this much probability.", phases=GENERATE, gt=0.0, le=1.0
    )
    max_tokens: int | None = option(None, description="Max new tokens [default: each benchmark's own].", phases=GENERATE, gt=0)
    seed: int = option(0, description="Sampling seed.", phases=GENERATE)


class EngineConfig(OptionsModel):
    """How each vLLM engine is placed and started."""

    tp_size: int = option(1, description="Tensor-parallel GPUs per engine (on one node).", phases=GENERATE, ge=1)
    device: Literal["auto", "cpu", "gpu"] = option(
        "auto",
        description="Where engines run: auto = GPUs when the cluster has any, else CPU; cpu = vLLM's CPU build even on GPU nodes; gpu = require GPUs.",
        phases=GENERATE,
    )
    gpu_memory_utilization: float | None = option(
        None,
        description=f"vLLM gpu_memory_utilization [default: {GPU_MEMORY_FRACTION}; on CPU {CPU_KV_CACHE_FRACTION} of the NUMA node's memory, split between tp ranks].",
        phases=GENERATE,
        gt=0.0,
        le=1.0,
    )
    max_model_len: int | None = option(None, description="Context length for vLLM [default: the model's].", phases=GENERATE, gt=0)
    enforce_eager: bool | None = option(
        None, description="Run vLLM eagerly, without CUDA graphs [default: eager on CPU, graphs on GPU].", phases=GENERATE
    )
    dtype: str = option(
        "auto", description="Weight and activation dtype passed to vLLM (auto, bfloat16, float16, float32).", phases=GENERATE
    )
    trust_remote_code: bool = option(False, description="Let vLLM run the model repository's own code.", phases=GENERATE)

    def memory_fraction(self, on_gpu: bool) -> float:
        """The fraction passed to vLLM (per rank), defaulting by device kind."""
        if self.gpu_memory_utilization is not None:
            return self.gpu_memory_utilization
        return GPU_MEMORY_FRACTION if on_gpu else CPU_KV_CACHE_FRACTION / self.tp_size

    def eager(self, on_gpu: bool) -> bool:
        """Whether vLLM runs without CUDA graphs: eager on CPU (there are no graphs, and it starts
        faster), graphs on GPU, unless set."""
        return self.enforce_eager if self.enforce_eager is not None else not on_gpu


WATCH_SETTLE_S = 120.0
"""A checkpoint's files must rest this long before it is taken without a marker file: longer
than the pauses inside one save (DeepSpeed and FSDP gather the next file's state between files; a
shared filesystem flushes in bursts), short against the usual 10-60 minutes between checkpoints,
so scores come at most a few minutes late. A judgement, not measured on a cluster here."""
WATCH_POLL_S = 30.0
"""How often the watched folders are listed: a few stat calls per checkpoint folder, nothing
against the settle time it adds to."""


class SweepOptions(OptionsModel):
    """Options of `rayeval sweep` alone: following run folders that a training job still writes."""

    watch: bool = option(
        False,
        description="Keep watching the model folders after the models there are done: each new checkpoint is evaluated once it is complete.",
        phases=SWEEP,
    )
    watch_settle_s: float = option(
        WATCH_SETTLE_S,
        description="Seconds a new checkpoint's files must stay unchanged (with config.json and weights present) before it is taken.",
        phases=SWEEP,
        gt=0.0,
    )
    watch_marker: str | None = option(
        None,
        description="File name a trainer writes into a checkpoint folder when it is complete (e.g. COMPLETE): take a checkpoint as soon as it exists, instead of waiting for its files to settle.",
        phases=SWEEP,
    )
    watch_until: Annotated[WatchUntil | None, BeforeValidator(parse_watch_until)] = option(
        None,
        description="Stop watching once a checkpoint at this step or later is evaluated (5000), the folder of this name is evaluated (final), or after this long (30m, 6h) [default: until Ctrl-C].",
        phases=SWEEP,
    )
    watch_poll_s: float = option(WATCH_POLL_S, description="Seconds between looks at the watched folders.", phases=SWEEP, gt=0.0)

    @model_validator(mode="after")
    def _watch_settings_need_watch(self) -> SweepOptions:
        if not self.watch and (self.watch_marker is not None or self.watch_until is not None):
            given = option_ref("sweep.watch_marker") if self.watch_marker is not None else option_ref("sweep.watch_until")
            raise ValueError(f"{given} only applies while watching; add {option_ref('sweep.watch')}")
        if self.watch_marker is not None and (
            not self.watch_marker.strip() or "/" in self.watch_marker or self.watch_marker in (".", "..")
        ):
            raise ValueError(
                f"{option_ref('sweep.watch_marker')} {self.watch_marker!r} is not a file name; name the file the trainer writes "
                "into each finished checkpoint folder (e.g. COMPLETE)"
            )
        return self


def config_hash(*configs: BaseModel) -> str:
    """A short stable hash of settings, used in shard ids so changed settings never reuse work."""
    payload = json.dumps([c.model_dump(mode="json") for c in configs], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
