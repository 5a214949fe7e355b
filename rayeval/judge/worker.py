"""A judge worker: many concurrent HTTP requests from one asyncio loop.

Plain class so it runs the same inside a Ray actor (how the pool uses it) and in-process (unit
tests, bench). Its share of the pool's concurrency cap is a semaphore; the rate limits come from
a limiter shared with the other workers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import SecretStr

from rayeval.endpoint.client import CallOutcome, EndpointClient, RetryPolicy, send_with_retries
from rayeval.endpoint.ratelimit import LocalLimiter, estimate_tokens


class ActorLimiter:
    """A `RateSchedule` living in a Ray actor shared by every worker of the pool."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    async def reserve(self, tokens: int) -> float:
        return await self._handle.reserve.remote(tokens)

    async def pause(self, seconds: float) -> None:
        await self._handle.pause.remote(seconds)


class JudgeWorker:
    """Sends batches of judge requests, at most `concurrency` at a time."""

    def __init__(
        self,
        api_base: str,
        api_key: SecretStr | None,
        model: str,
        timeout: float,
        policy: RetryPolicy,
        concurrency: int,
        limiter: LocalLimiter | ActorLimiter,
    ) -> None:
        self._endpoint = EndpointClient(api_base, api_key, model, timeout, role="judge")
        self._policy = policy
        self._concurrency = concurrency
        self._slots: asyncio.Semaphore | None = None
        self._limiter = limiter

    def __repr__(self) -> str:
        return f"JudgeWorker({self._endpoint!r}, concurrency={self._concurrency})"

    async def complete_many(self, requests: list[dict[str, Any]]) -> list[CallOutcome]:
        """One outcome per request, in order."""
        if self._slots is None:  # bound to the loop that runs the requests
            self._slots = asyncio.Semaphore(self._concurrency)
        return list(
            await asyncio.gather(
                *(
                    send_with_retries(
                        self._endpoint.send,
                        request,
                        estimate_tokens(request),
                        self._policy,
                        self._slots,
                        self._limiter.reserve,
                        self._limiter.pause,
                    )
                    for request in requests
                )
            )
        )

    async def close(self) -> None:
        await self._endpoint.close()
