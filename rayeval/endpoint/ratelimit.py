"""Requests/minute and tokens/minute limits for an OpenAI-compatible endpoint (judge pools, API
models under test).

A reservation schedule rather than a token bucket with bursts: each request reserves the next
free start time, requests are spaced `60 / rpm` seconds apart and a request of `t` tokens holds
the token clock for `t * 60 / tpm` seconds. Providers enforce their limits over short windows,
so a smooth schedule avoids the 429 storms a burst-then-wait limiter provokes; N requests take
about N/R minutes. A 429 with Retry-After pauses the whole schedule, since the limit it signals
is shared too.

A judge pool with several workers runs one instance as a tiny Ray actor; workers ask it how long
to wait and sleep themselves, so the actor never blocks. A single client uses `LocalLimiter`.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateSchedule:
    """Hands out start times that respect `rpm` and `tpm` (either may be None: no cap)."""

    def __init__(self, rpm: float | None, tpm: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._rpm = rpm
        self._tpm = tpm
        self._clock = clock
        self._next_request = 0.0
        self._next_tokens = 0.0
        self._paused_until = 0.0

    def reserve(self, tokens: int) -> float:
        """Reserve a start slot for a request of about `tokens` tokens; returns seconds to wait."""
        now = self._clock()
        start = max(now, self._next_request, self._next_tokens, self._paused_until)
        if self._rpm:
            self._next_request = start + 60.0 / self._rpm
        if self._tpm:
            self._next_tokens = start + tokens * 60.0 / self._tpm
        return start - now

    def pause(self, seconds: float) -> None:
        """Hold every reservation back for `seconds` (the endpoint said it is over its limit)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)


def estimate_tokens(request: dict) -> int:
    """Rough token count a provider charges against TPM: prompt characters / 4 + max_tokens.

        The prompt is a chat body's messages or a plain completion body's `prompt` (text, or token ids,
    which are counted exactly). Providers count
        `max_tokens` up front as well, so this is the figure their limiter uses.
    """
    prompt = request.get("prompt")
    if isinstance(prompt, list) and all(isinstance(token, int) for token in prompt):
        return len(prompt) + int(request.get("max_tokens") or 0)  # a prompt of token ids is exact
    chars = sum(len(str(m.get("content") or "")) for m in request.get("messages", []))
    chars += len(str(prompt or ""))
    chars += len(str(request.get("tools") or ""))
    return chars // 4 + int(request.get("max_tokens") or 0)


class LocalLimiter:
    """A `RateSchedule` in this process, behind the async interface clients use."""

    def __init__(self, schedule: RateSchedule) -> None:
        self._schedule = schedule

    async def reserve(self, tokens: int) -> float:
        return self._schedule.reserve(tokens)

    async def pause(self, seconds: float) -> None:
        self._schedule.pause(seconds)
