"""A judge worker: many concurrent HTTP requests from one asyncio loop.

Plain class so it runs the same inside a Ray actor (how the pool uses it) and in-process (unit
tests, bench). Its share of the pool's concurrency cap is a semaphore; the rate limits come from
a limiter shared with the other workers. When the judge runs as several in-cluster servers
(replicas), each attempt goes to the next server in turn, so load spreads evenly and a retry
lands on another replica; replicas added later (`add_endpoints`) take their share at once while
the concurrency cap stays the pool's.
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
        self._endpoints = [EndpointClient(api_base, api_key, model, timeout, role="judge")]
        self._turn = 0
        self._client_args = (api_key, model, timeout)
        self._policy = policy
        self._concurrency = concurrency
        self._slots: asyncio.Semaphore | None = None
        self._limiter = limiter

    def __repr__(self) -> str:
        return f"JudgeWorker({self._endpoints!r}, concurrency={self._concurrency})"

    async def add_endpoints(self, api_bases: list[str]) -> None:
        """Send to these servers too (more replicas of the same judge)."""
        api_key, model, timeout = self._client_args
        self._endpoints += [EndpointClient(base, api_key, model, timeout, role="judge") for base in api_bases]

    async def _send(self, request: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoints[self._turn % len(self._endpoints)]
        self._turn += 1
        return await endpoint.send(request)

    async def complete_many(self, requests: list[dict[str, Any]]) -> list[CallOutcome]:
        """One outcome per request, in order."""
        if self._slots is None:  # bound to the loop that runs the requests
            self._slots = asyncio.Semaphore(self._concurrency)
        return list(
            await asyncio.gather(
                *(
                    send_with_retries(
                        self._send,
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
        for endpoint in self._endpoints:
            await endpoint.close()
