"""One request to an OpenAI-compatible endpoint over HTTP, with retries: the only code that talks
to such endpoints (the judge pool's workers and the API engine of models under test share it).

Uses the `openai` async client (its own retries off) against any OpenAI-compatible endpoint.
A request body with `messages` goes to `/chat/completions`; one with `prompt` goes to
`/completions` (plain completion models, e.g. TruthfulQA's truth and info judges, which are
read through the logprobs of their first token, or prompt log-probabilities of a model under test).
Retried: 429, 408/409, 5xx, timeouts, dropped connections and malformed bodies, with
exponential backoff and jitter, or exactly the wait a `Retry-After` header asks for. Not
retried: other 4xx (the request itself is wrong). A rejected key (401/403) or an unknown model
(404) is fatal for the whole run. Whatever ends a request is recorded as a one-line reason with
the key scrubbed out, never as an empty completion.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

RETRYABLE_STATUS = {408, 409, 429}
FATAL_STATUS = {401: "rejected the API key", 403: "refused the API key", 404: "does not serve the model"}
MAX_RETRY_AFTER_S = 600.0
REASON_CHARS = 300


@dataclass(frozen=True)
class CallOutcome:
    """The endpoint's answer to one request (`response`: the JSON body) or why there is none.

    `gave_up`: every attempt met a retryable error (overload, timeout), so the request itself may
    well be fine and a later run should try again; otherwise the endpoint refused the request."""

    response: dict[str, Any] | None = None
    error: str | None = None
    fatal: bool = False
    attempts: int = 0
    gave_up: bool = False

    @property
    def ok(self) -> bool:
        return self.response is not None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    backoff_base: float
    backoff_max: float

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Wait before retry number `retry` (0-based): the server's Retry-After when it gave one,
        else base·2^retry capped, with jitter in [½, 1] of that so workers do not retry in step."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)
        ceiling = min(self.backoff_max, self.backoff_base * (2**retry))
        return ceiling * random.uniform(0.5, 1.0)


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Final(Exception):
    def __init__(self, reason: str, fatal: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal


def redact(text: str, secret: SecretStr | None) -> str:
    """One line, bounded, with the key replaced wherever an endpoint echoed it."""
    if secret is not None and secret.get_secret_value():
        text = text.replace(secret.get_secret_value(), "***")
    text = " ".join(text.split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def display_url(url: str) -> str:
    """`url` without any user:password part or query, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date), else None."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None


def is_completion(request: dict[str, Any]) -> bool:
    """True for a plain completion body (`prompt`), False for a chat body (`messages`)."""
    return "prompt" in request


def check_body(text: str, field: str = "message") -> dict[str, Any]:
    """The response JSON, if its first choice has `field` (`message` for chat, `text` for plain
    completions); else retryable."""
    try:
        body = json.loads(text)
    except ValueError:
        raise _Retryable(f"malformed response body (not JSON): {text[:80]!r}") from None
    choices = body.get("choices") if isinstance(body, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict) or field not in choices[0]:
        raise _Retryable(f"malformed response body (no choices[0].{field}): {text[:80]!r}")
    return body


class EndpointClient:
    """Async chat or plain completions against one endpoint for one model.

    `role` names the endpoint in messages ("judge endpoint ...", "model endpoint ...")."""

    def __init__(self, api_base: str, api_key: SecretStr | None, model: str, timeout: float, role: str) -> None:
        from openai import AsyncOpenAI

        self.model = model
        self.role = role
        self.api_base = display_url(api_base)
        self._key = api_key
        # Local servers (vLLM) take any key; the client insists on a non-empty one.
        secret = api_key.get_secret_value() if api_key is not None else "EMPTY"
        self._client = AsyncOpenAI(base_url=api_base, api_key=secret, timeout=timeout, max_retries=0)
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"EndpointClient(api_base={self.api_base!r}, model={self.model!r})"

    async def send(self, request: dict[str, Any]) -> dict[str, Any]:
        """One attempt; raises `_Retryable` or `_Final` with a scrubbed reason."""
        import openai

        completion = is_completion(request)
        api = self._client.completions if completion else self._client.chat.completions
        try:
            raw = await asyncio.wait_for(
                api.with_raw_response.create(model=self.model, **request),
                timeout=self._timeout + 5.0,  # guard in case the client's own timeout does not fire
            )
            text = raw.http_response.text
        except (asyncio.TimeoutError, openai.APITimeoutError):
            raise _Retryable(f"timed out after {self._timeout:g}s") from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            detail = redact(str(exc.message), self._key)
            if status in FATAL_STATUS:
                raise _Final(f"{self.role} endpoint {self.api_base} {FATAL_STATUS[status]} (HTTP {status}): {detail}", fatal=True) from None
            if status in RETRYABLE_STATUS or status >= 500:
                raise _Retryable(f"HTTP {status}: {detail}", parse_retry_after(exc.response.headers)) from None
            raise _Final(f"HTTP {status}: {detail}", fatal=False) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise _Retryable(f"connection error: {redact(f'{type(cause).__name__}: {cause}', self._key)}") from None
        except openai.APIResponseValidationError as exc:
            raise _Retryable(f"malformed response: {redact(str(exc), self._key)}") from None
        return check_body(text, "text" if completion else "message")

    async def close(self) -> None:
        await self._client.close()


PREFLIGHT_TIMEOUT_S = 20.0
"""Listing models answers in well under a second from a healthy endpoint; 20 s leaves room for
a slow network and still fails a dead endpoint before any real work waits on it."""


def check_endpoint(api_base: str, key: SecretStr | None, timeout: float, role: str, key_hint: str, endpoint_hint: str) -> None:
    """Fail fast, in one line, if the endpoint is unreachable or rejects the key.

    A 404 on `/models` is accepted: some OpenAI-compatible servers do not list models.
    `role` names the endpoint ("judge", "model"), `key_hint` where the key came from and
    `endpoint_hint` what set the endpoint, for the message.
    """
    import openai

    from rayeval.errors import RayevalError

    client = openai.OpenAI(
        base_url=api_base,
        api_key=key.get_secret_value() if key is not None else "EMPTY",
        timeout=min(timeout, PREFLIGHT_TIMEOUT_S),
        max_retries=1,
    )
    where = display_url(api_base)
    try:
        client.models.list()
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise RayevalError(f"{role} endpoint {where} rejected the API key (HTTP {exc.status_code}); check {key_hint}") from None
    except (openai.APIConnectionError, openai.APITimeoutError) as exc:
        raise RayevalError(
            f"{role} endpoint {where} is unreachable ({type(exc).__name__}); check {endpoint_hint} and that the server is up"
        ) from None
    except openai.APIStatusError as exc:
        if exc.status_code >= 500:
            raise RayevalError(f"{role} endpoint {where} answers HTTP {exc.status_code}: {redact(str(exc.message), key)}") from None
    finally:
        client.close()


Reserve = Callable[[int], Awaitable[float]]
Pause = Callable[[float], Awaitable[None]]


async def send_with_retries(
    send: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
    request: dict[str, Any],
    tokens: int,
    policy: RetryPolicy,
    slots: asyncio.Semaphore,
    reserve: Reserve,
    pause: Pause,
) -> CallOutcome:
    """Run `send(request)` until it succeeds, fails for good, or retries run out.

    Each attempt holds a concurrency slot and a rate-limit reservation; backoff sleeps hold
    neither, so other requests proceed meanwhile.
    """
    last = "no attempt made"
    for attempt in range(policy.max_retries + 1):
        async with slots:
            wait = await reserve(tokens)
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return CallOutcome(response=await send(request), attempts=attempt + 1)
            except _Final as exc:
                return CallOutcome(error=exc.reason, fatal=exc.fatal, attempts=attempt + 1)
            except _Retryable as exc:
                last, retry_after = exc.reason, exc.retry_after
        if attempt == policy.max_retries:
            break
        delay = policy.delay(attempt, retry_after)
        if retry_after is not None:
            await pause(delay)
        await asyncio.sleep(delay)
    return CallOutcome(error=f"gave up after {policy.max_retries + 1} attempt(s): {last}", attempts=policy.max_retries + 1, gave_up=True)
