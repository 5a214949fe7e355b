"""Requests/minute and tokens/minute limits shared by every worker of a judge pool.

A reservation schedule rather than a token bucket with bursts: each request reserves the next
free start time, requests are spaced `60 / rpm` seconds apart and a request of `t` tokens holds
the token clock for `t * 60 / tpm` seconds. Providers enforce their limits over short windows,
so a smooth schedule avoids the 429 storms a burst-then-wait limiter provokes; N requests take
about N/R minutes. A 429 with Retry-After pauses the whole schedule, since the limit it signals
is shared too.

The pool runs one instance as a tiny Ray actor; workers ask it how long to wait and sleep
themselves, so the actor never blocks.
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

    The prompt is a chat body's messages or a plain completion body's `prompt`. Providers count
    `max_tokens` up front as well, so this is the figure their limiter uses.
    """
    chars = sum(len(str(m.get("content") or "")) for m in request.get("messages", []))
    chars += len(str(request.get("prompt") or ""))
    chars += len(str(request.get("tools") or ""))
    return chars // 4 + int(request.get("max_tokens") or 0)
