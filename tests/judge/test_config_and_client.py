"""Judge pool parts that need no server: config, cache, rate schedule, retry rules, redaction."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from rayeval.cli_options import render_refs
from rayeval.endpoint.client import RetryPolicy, _Final, _Retryable, display_url, parse_retry_after, redact, send_with_retries
from rayeval.endpoint.ratelimit import RateSchedule, estimate_tokens
from rayeval.errors import RayevalError
from rayeval.judge.cache import JudgeCache, request_digest
from rayeval.judge.config import DEFAULT_API_BASE, DEFAULT_MODEL, JudgeConfig
from rayeval.settings import Settings
from rayeval.store import ResultStore


def config(**options) -> JudgeConfig:
    return JudgeConfig(**{"cache_dir": Path("/tmp/judge-cache"), **options})


def test_backend_choice() -> None:
    assert (config().api_base, config().model, config().in_cluster) == (DEFAULT_API_BASE, DEFAULT_MODEL, False)
    assert config(model=DEFAULT_MODEL).api_base == DEFAULT_API_BASE  # the CLI always passes a model name
    endpoint = config(api_base="http://h:1/v1")
    assert (endpoint.model, endpoint.in_cluster) == (DEFAULT_MODEL, False)
    local = config(model="/models/judge", tp=2)
    assert local.in_cluster and local.api_base is None and local.tp == 2
    # No cache folder of its own: None means the result store's, which run_evaluations sets.
    assert JudgeConfig().cache_dir is None
    assert ResultStore(Path("/tmp/results")).judge_cache_dir() == Path("/tmp/results/.judge_cache")


def test_key_resolution_and_secrecy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAYEVAL_JUDGE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert config().resolved_key() is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert config().resolved_key().get_secret_value() == "sk-openai"
    monkeypatch.setenv("RAYEVAL_JUDGE_API_KEY", "sk-rayeval")
    assert config().resolved_key().get_secret_value() == "sk-rayeval"
    given = config(api_key="sk-given-secret")
    assert given.resolved_key().get_secret_value() == "sk-given-secret"
    assert "sk-given-secret" not in repr(given) and "sk-given-secret" not in str(given)
    assert "api_key" not in given.manifest() and "sk-given-secret" not in str(given.manifest())


@pytest.mark.parametrize(
    "options, ref, flag",
    [
        ({"concurrency": 0}, "⟨judge.concurrency⟩", "--judge-concurrency"),
        ({"rpm": -5}, "⟨judge.rpm⟩", "--judge-rpm"),
        ({"bogus": 1}, "⟨judge.bogus⟩", "judge.bogus"),
    ],
)
def test_invalid_options_are_one_line_errors(options: dict, ref: str, flag: str) -> None:
    with pytest.raises(RayevalError) as error:
        Settings.build({"judge": options})
    assert ref in str(error.value) and "\n" not in str(error.value)
    assert flag in render_refs(str(error.value))  # the CLI shows the option as its flag (an unknown one as its path)


def test_request_digest() -> None:
    request = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1, "temperature": 0}
    reordered = {"temperature": 0, "max_tokens": 1, "messages": [{"content": "hi", "role": "user"}]}
    assert request_digest("judge", request) == request_digest("judge", reordered)
    assert request_digest("judge", request) != request_digest("other-judge", request)
    assert request_digest("judge", request) != request_digest("judge", {**request, "temperature": 1})


def test_cache_roundtrip_and_corrupt_entries(tmp_path: Path) -> None:
    cache = JudgeCache(tmp_path)
    request = {"messages": [{"role": "user", "content": "hi"}]}
    assert cache.get("judge", request) is None
    cache.put("judge", request, {"choices": [{"message": {"content": "m"}}]})
    assert cache.get("judge", request) == {"choices": [{"message": {"content": "m"}}]}
    assert cache.get("other", request) is None
    [entry] = list(tmp_path.rglob("*.json"))
    entry.write_text("{truncated")
    assert cache.get("judge", request) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rpm_spaces_requests_evenly() -> None:
    clock = FakeClock()
    schedule = RateSchedule(rpm=120, tpm=None, clock=clock)
    assert [schedule.reserve(10) for _ in range(4)] == pytest.approx([0.0, 0.5, 1.0, 1.5])
    clock.now += 10  # idle time is not banked as a burst
    assert schedule.reserve(10) == 0.0 and schedule.reserve(10) == pytest.approx(0.5)


def test_tpm_holds_the_token_clock() -> None:
    clock = FakeClock()
    schedule = RateSchedule(rpm=None, tpm=6000, clock=clock)
    assert schedule.reserve(1000) == 0.0
    assert schedule.reserve(100) == pytest.approx(10.0)  # 1000 tokens at 100 tokens/s
    assert schedule.reserve(100) == pytest.approx(11.0)


def test_pause_holds_everyone_back() -> None:
    clock = FakeClock()
    schedule = RateSchedule(rpm=None, tpm=None, clock=clock)
    assert schedule.reserve(1) == 0.0
    schedule.pause(7.0)
    assert schedule.reserve(1) == pytest.approx(7.0)
    schedule.pause(2.0)  # a shorter pause does not shorten the current one
    assert schedule.reserve(1) == pytest.approx(7.0)


def test_backoff_and_retry_after() -> None:
    policy = RetryPolicy(max_retries=5, backoff_base=1.0, backoff_max=5.0)
    for retry, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 5.0), (4, 5.0)]:
        delays = [policy.delay(retry, None) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert policy.delay(0, 12.5) == 12.5  # the server's wait, even beyond backoff_max
    assert policy.delay(0, -3) == 0.0


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 < parse_retry_after({"retry-after": date}) <= 30
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None and parse_retry_after(None) is None


def test_redact_and_display_url() -> None:
    from pydantic import SecretStr

    assert redact("bad key sk-123 given\n twice sk-123", SecretStr("sk-123")) == "bad key *** given twice ***"
    assert len(redact("x" * 1000, None)) == 300
    assert display_url("https://user:pw@api.example.com:8443/v1?x=1") == "https://api.example.com:8443/v1"


def test_estimate_tokens() -> None:
    request = {"messages": [{"role": "user", "content": "x" * 400}, {"role": "system", "content": None}], "max_tokens": 5}
    assert estimate_tokens(request) == 105
    assert estimate_tokens({"prompt": "x" * 40, "max_tokens": 1}) == 11  # a plain completion body


def run_retries(script: list[Exception | dict], max_retries: int = 3):
    calls = []
    pauses = []

    async def send(request):
        calls.append(request)
        step = script[len(calls) - 1]
        if isinstance(step, Exception):
            raise step
        return step

    async def reserve(tokens):
        return 0.0

    async def pause(seconds):
        pauses.append(seconds)

    policy = RetryPolicy(max_retries=max_retries, backoff_base=0.001, backoff_max=0.002)
    outcome = asyncio.run(send_with_retries(send, {"q": 1}, 1, policy, asyncio.Semaphore(1), reserve, pause))
    return outcome, len(calls), pauses


def test_retry_loop_outcomes() -> None:
    ok = {"choices": [{"message": {"content": "m"}}]}
    outcome, calls, pauses = run_retries([_Retryable("HTTP 500"), _Retryable("HTTP 429", retry_after=0.01), ok])
    assert outcome.ok and outcome.response == ok and calls == 3 and outcome.attempts == 3
    assert pauses == [0.01]  # only a Retry-After pauses the whole pool
    outcome, calls, _ = run_retries([_Retryable("timed out")] * 3, max_retries=2)
    assert not outcome.ok and calls == 3 and outcome.error == "gave up after 3 attempt(s): timed out"
    outcome, calls, _ = run_retries([_Final("HTTP 400: bad", fatal=False)])
    assert (outcome.ok, outcome.fatal, calls, outcome.error) == (False, False, 1, "HTTP 400: bad")
    outcome, calls, _ = run_retries([_Final("rejected the API key", fatal=True)])
    assert outcome.fatal and calls == 1
