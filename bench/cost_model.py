"""A cost model of an LLM engine, and a stand-in engine whose time follows it.

The sweep benchmark (bench_sweep_makespan.py) runs the real scheduler on a simulated cluster whose
GPUs are logical, so no vLLM can run there; this stand-in takes the time a GPU engine would take
(scaled down) instead. The same `CostModel` prices the strategies the benchmark compares with
rayeval in pure simulations, so every strategy pays for the same work at the same rates.

Test double, deliberately, like tests/standin_engine.py (whose `SleepyEngine` sleeps a fixed time
per request, enough for fault tests but blind to batching, which is what a makespan depends on).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from rayeval.config import EngineConfig, SamplingConfig
from rayeval.models import ModelSpec
from rayeval.requests import ChatRequest, GenerationResult, LoglikelihoodRequest, LoglikelihoodResult, Request, Result, max_new_tokens

CHARS_PER_TOKEN = 4
"""English text in Llama-style tokenizers: about 4 characters a token (SmolLM2 on IFEval: 4.2)."""


@dataclass(frozen=True)
class Tokens:
    """One request as the engine sees it: tokens to read (prefill) and tokens to write (decode)."""

    prompt_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class CostModel:
    """Seconds an engine spends on a batch, with continuous batching up to `max_batch`.

    Why this shape: on a GPU, decoding is bound by reading the weights once per step, so a step of
    a batch costs the same as one sequence's step until the batch is full (vLLM's `max_num_seqs`);
    prefill is bound by compute, so it costs per prompt token whatever the batch. A batch admits
    its requests in order and a waiting request takes the slot of the first that finishes, so the
    decode steps of a batch are the makespan of its output lengths list-scheduled on `max_batch`
    slots: once the queue is empty the batch drains, and its longest answer sets the end.
    Defaults: an 8B model on one H100-class GPU in bf16 (weights 16 GB at ~3 TB/s: ~25 ms a decode
    step with the KV reads of a full batch; prefill 16 GFLOP a token at ~400 TFLOP/s: ~25k
    tokens/s; vLLM start with CUDA graphs ~60 s).
    """

    load_s: float = 60.0
    prefill_s_per_token: float = 4e-5
    decode_s_per_step: float = 0.025
    max_batch: int = 256

    def decode_steps(self, output_tokens: Sequence[int], max_batch: int | None = None) -> int:
        """Steps to decode these answers admitted in order into `max_batch` slots."""
        slots = min(max_batch or self.max_batch, len(output_tokens))
        if slots == 0:
            return 0
        free_at = [0] * slots  # the step at which each slot's current answer ends
        for tokens in output_tokens:
            heapq.heappush(free_at, heapq.heappop(free_at) + tokens)
        return max(free_at)

    def batch_seconds(self, sequences: Sequence[Tokens], max_batch: int | None = None) -> float:
        """One engine call over `sequences` (an offline batch, or a server kept `max_batch` busy)."""
        prefill = sum(s.prompt_tokens for s in sequences) * self.prefill_s_per_token
        return prefill + self.decode_steps([s.output_tokens for s in sequences], max_batch) * self.decode_s_per_step

    def ideal_seconds(self, sequences: Sequence[Tokens]) -> float:
        """The least engine time `sequences` can take: every decode step with a full batch."""
        prefill = sum(s.prompt_tokens for s in sequences) * self.prefill_s_per_token
        return prefill + sum(s.output_tokens for s in sequences) / self.max_batch * self.decode_s_per_step

    def drained_seconds(self, sequences: Sequence[Tokens]) -> float:
        """The least `sequences` can take in engine calls that each drain, however they are split
        into calls: a call's decode steps are at least its longest answer's, so the calls together
        decode at least max(full batches, the longest answer); prefill adds up whatever the split."""
        prefill = sum(s.prompt_tokens for s in sequences) * self.prefill_s_per_token
        full_batches = sum(s.output_tokens for s in sequences) / self.max_batch
        return prefill + max(full_batches, max((s.output_tokens for s in sequences), default=0)) * self.decode_s_per_step

    def longest_seconds(self, sequence: Tokens) -> float:
        """One request alone: no schedule can finish it sooner."""
        return sequence.prompt_tokens * self.prefill_s_per_token + sequence.output_tokens * self.decode_s_per_step


def _unit(*parts: str) -> float:
    """A uniform number in (0, 1) fixed by `parts`: the same answer lengths in every process."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2**64


def _normal(*parts: str) -> float:
    """A standard normal number fixed by `parts` (Box-Muller on two fixed uniforms)."""
    return math.sqrt(-2 * math.log(_unit("r", *parts))) * math.cos(2 * math.pi * _unit("t", *parts))


@dataclass(frozen=True)
class Workload:
    """How long each request's answer is: a deterministic function of (model, request), so the
    engines on the cluster and the pure simulations price exactly the same work.

    Answer lengths are log-normal around `median_fraction` of the request's max tokens (each
    benchmark sets its own: TruthfulQA 50, IFEval 1280, AlpacaEval 2048, LiveBench 4096), spread
    by `sigma`, times a per-model factor spread by `model_sigma` (an early checkpoint that rambles),
    and cut at max tokens as an engine would. Log-likelihood requests only read their tokens.
    """

    median_fraction: float = 0.2
    sigma: float = 0.4
    model_sigma: float = 0.0

    def sequence(self, model_path: str, request: Request, sampling: SamplingConfig) -> Tokens:
        if isinstance(request, LoglikelihoodRequest):
            context = request.context if isinstance(request.context, str) else "".join(m["content"] for m in request.context)
            chars = len(context) * len(request.continuations) + sum(len(c) for c in request.continuations)
            return Tokens(prompt_tokens=chars // CHARS_PER_TOKEN + 1, output_tokens=0)
        assert isinstance(request, ChatRequest)
        limit = max_new_tokens(request, sampling.max_tokens)
        spread = self.sigma * _normal(model_path, request.key) + self.model_sigma * _normal(model_path)
        tokens = min(limit, max(1, round(self.median_fraction * limit * math.exp(spread))))
        prompt = sum(len(m["content"]) for m in request.messages) // CHARS_PER_TOKEN + 1
        return Tokens(prompt_tokens=prompt, output_tokens=tokens)


@dataclass(frozen=True)
class Span:
    """One thing a stand-in engine did, for the benchmark's per-engine timeline: a model load
    (`first_key` empty) or one engine call, named by the model path and its first request's key."""

    engine: int
    """The engine actor's process id."""
    model_path: str
    first_key: str
    requests: int
    longest_answer: int
    """Output tokens of the call's longest answer: its batch drains to it."""
    start: float
    end: float
    """Wall-clock seconds (time.time), comparable across the processes of one machine."""


def read_spans(journal: Path) -> list[Span]:
    """Every span the engines journaled under `journal` (see `CostModelEngine`)."""
    return [Span(**json.loads(line)) for path in sorted(journal.glob("*.jsonl")) for line in path.read_text().splitlines()]


class CostModelEngine:
    """An engine (`rayeval.engine.vllm_engine.Engine`) that sleeps as long as `CostModel` says,
    times `time_scale` real seconds per modelled second, divided by its node's `speed`. With a
    `journal` folder, it appends a `Span` per load and per call to `<journal>/<pid>.jsonl`."""

    def __init__(self, cost: CostModel, workload: Workload, time_scale: float, speed: float, journal: Path | None = None) -> None:
        self.cost, self.workload, self.time_scale, self.speed, self.journal = cost, workload, time_scale, speed, journal
        self.model: ModelSpec | None = None

    def _sleep(self, modelled_seconds: float, model_path: str, requests: Sequence[Request] = (), longest: int = 0) -> None:
        start = time.time()
        time.sleep(modelled_seconds * self.time_scale / self.speed)
        if self.journal is not None:
            span = Span(os.getpid(), model_path, requests[0].key if requests else "", len(requests), longest, start, time.time())
            with (self.journal / f"{span.engine}.jsonl").open("a") as out:
                out.write(json.dumps(asdict(span)) + "\n")

    def load(self, model: ModelSpec, sampling: SamplingConfig) -> None:
        self._sleep(self.cost.load_s, model.path)
        self.model = model

    def run(self, requests: list[Request], sampling: SamplingConfig) -> list[Result]:
        assert self.model is not None, "run before load"
        sequences = [self.workload.sequence(self.model.path, r, sampling) for r in requests]
        self._sleep(self.cost.batch_seconds(sequences), self.model.path, requests, max((s.output_tokens for s in sequences), default=0))
        results: list[Result] = []
        for request, seq in zip(requests, sequences):
            if isinstance(request, LoglikelihoodRequest):
                n = len(request.continuations)
                results.append(
                    LoglikelihoodResult(key=request.key, logprobs=(-1.0,) * n, num_tokens=(1,) * n, prompt_tokens=seq.prompt_tokens)
                )
            else:
                text = f"answer of {seq.output_tokens} tokens"
                results.append(GenerationResult(request.key, text, seq.prompt_tokens, seq.output_tokens, "stop"))
        return results

    def unload(self) -> None:
        self.model = None


def cost_model_factory(
    cost: CostModel, workload: Workload, time_scale: float, node_speed: dict[str, float], journal: Path | None = None
) -> Callable[[EngineConfig, bool], CostModelEngine]:
    """An engine factory for `EnginePool` (picklable by value for Ray workers once this module is
    registered with `ray.cloudpickle.register_pickle_by_value`). `node_speed`: Ray node id →
    speed of the engines there (1.0 when absent; 0.5 is a straggler at half speed). `journal`:
    a folder on this machine where every engine journals its spans."""

    def factory(config: EngineConfig, on_gpu: bool) -> CostModelEngine:
        import ray

        speed = node_speed.get(ray.get_runtime_context().get_node_id(), 1.0)
        return CostModelEngine(cost, workload, time_scale, speed, journal)

    return factory
