"""A model behind an OpenAI-compatible API, behind the same `Engine` interface as vLLM.

The engine actor drives it like `VLLMEngine`: `load` checks the endpoint (unreachable or a
rejected key fails the model in one line, as a broken checkpoint does), `run` answers a shard's
requests, `unload` closes the client. It runs in an engine actor of its own, on CPU and outside
any placement group (see `rayeval.engine.pool`), one per API model, so any number of API models
and local checkpoints share one sweep.

- A `ChatRequest` is a `/chat/completions` call with the run's sampling options; the answer's
  text, token counts (`usage`) and finish reason are recorded as vLLM's are.
- A `LoglikelihoodRequest` is scored from prompt log-probabilities (`api_logprobs`), with the
  same token split as the offline engine (`rayeval.engine.loglikelihood`), so the numbers match.
- Requests run concurrently, at most `ApiConfig.concurrency` at a time, within the requests and
  tokens per minute caps, each attempt with a timeout, retried with backoff that honours
  `Retry-After` (the machinery the judge pool uses, `rayeval.endpoint`).
- A request that still fails is a `FailedResult` with the reason, never an empty answer: the
  scheduler journals it and the next run sends it again (see `rayeval.requests.FailedResult`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from rayeval.config import EngineConfig, SamplingConfig
from rayeval.endpoint.client import CallOutcome, EndpointClient, RetryPolicy, check_endpoint, redact, send_with_retries
from rayeval.endpoint.ratelimit import LocalLimiter, RateSchedule, estimate_tokens
from rayeval.engine.api_config import ApiConfig
from rayeval.errors import RayevalError
from rayeval.models import ModelSpec
from rayeval.requests import (
    ChatRequest,
    FailedResult,
    GenerationResult,
    LoglikelihoodRequest,
    Request,
    Result,
    max_new_tokens,
)


class ApiEngine:
    """One API model at a time; requests from one asyncio loop that lives as long as the engine."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self.model: ModelSpec | None = None
        self._client: EndpointClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._limiter = LocalLimiter(RateSchedule(config.rpm, config.tpm))
        self._policy = RetryPolicy(config.max_retries, config.backoff_base, config.backoff_max)
        self._scorer: Any = None  # an api_logprobs.PromptScorer once a log-likelihood request came

    def __repr__(self) -> str:
        return f"ApiEngine(model={self.model.path if self.model else None!r})"

    def load(self, model: ModelSpec, sampling: SamplingConfig) -> None:
        """Check the endpoint and open a client for `model` (an `openai:NAME@URL` model)."""
        self.unload()
        endpoint = model.api
        if endpoint is None:
            raise RayevalError(f"{model.path} is not an API model; the API engine only sends requests to endpoints")
        key_hint = f"the variable {endpoint.api_key_env}" if endpoint.api_key_env else "the model's api key"
        check_endpoint(endpoint.base_url, endpoint.api_key, self.config.timeout, "model", key_hint, f"the URL in {model.path}")
        self._loop = asyncio.new_event_loop()
        self._client = EndpointClient(endpoint.base_url, endpoint.api_key, endpoint.model, self.config.timeout, role="model")
        self.model = model

    def unload(self) -> None:
        """Close the client and its loop (a loop is bound to the connections it opened)."""
        loop, client = self._loop, self._client
        self._loop, self._client, self._slots, self._scorer, self.model = None, None, None, None, None
        if loop is None:
            return
        try:
            if client is not None:
                loop.run_until_complete(client.close())
        finally:
            loop.close()

    def run(self, requests: list[Request], sampling: SamplingConfig) -> list[Result]:
        """Answer every request (concurrently); results in request order, failures as records."""
        if self._loop is None:
            raise RuntimeError("no model loaded")
        return self._loop.run_until_complete(self._run(requests, sampling))

    async def _run(self, requests: list[Request], sampling: SamplingConfig) -> list[Result]:
        if self._slots is None:  # bound to the engine's loop, made on it
            self._slots = asyncio.Semaphore(self.config.concurrency)
        chats = [r for r in requests if isinstance(r, ChatRequest)]
        scored = [r for r in requests if isinstance(r, LoglikelihoodRequest)]
        by_key: dict[str, Result] = {}
        answers = await asyncio.gather(*(self._chat(r, sampling) for r in chats))
        by_key.update((result.key, result) for result in answers)
        if scored:
            by_key.update((result.key, result) for result in await self._prompt_scorer().score(scored))
        return [by_key[r.key] for r in requests]

    async def send(self, body: dict[str, Any]) -> CallOutcome:
        """One request body through the concurrency cap, rate limits and retries."""
        assert self._client is not None and self._slots is not None
        return await send_with_retries(
            self._client.send, body, estimate_tokens(body), self._policy, self._slots, self._limiter.reserve, self._limiter.pause
        )

    async def _chat(self, request: ChatRequest, sampling: SamplingConfig) -> Result:
        body = {
            "messages": [dict(m) for m in request.messages],
            "max_tokens": max_new_tokens(request, sampling.max_tokens),
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "seed": sampling.seed,
        }
        outcome = await self.send(body)
        if outcome.response is None:
            return FailedResult(key=request.key, reason=outcome.error or "no response")
        choice = outcome.response["choices"][0]
        text = choice["message"].get("content")
        if not isinstance(text, str):
            # e.g. a refusal or a tool call without content: not an answer, and not an empty one
            reason = f"response without text content (finish_reason {choice.get('finish_reason')!r})"
            return FailedResult(key=request.key, reason=redact(reason, None))
        usage = outcome.response.get("usage") or {}
        return GenerationResult(
            key=request.key,
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
        )

    def _prompt_scorer(self) -> Any:
        if self._scorer is None:
            from rayeval.engine.api_logprobs import PromptScorer

            assert self.model is not None and self.model.api is not None
            self._scorer = PromptScorer(self.model.api.model, self.send)
        return self._scorer


@dataclass(frozen=True)
class ApiEngineFactory:
    """The `EngineFactory` of API engine actors: the actor's engine config and device are moot."""

    config: ApiConfig

    def __call__(self, engine_config: EngineConfig, on_gpu: bool) -> ApiEngine:
        return ApiEngine(self.config)
