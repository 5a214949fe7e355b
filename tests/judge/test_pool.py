"""The judge pool against a real OpenAI-compatible HTTP server on 127.0.0.1.

`FakeJudgeServer` (tests/fake_judge_server.py) is a small stdlib HTTP server in a thread of the
test process (loopback only), scripted per call. The pool runs as real Ray actors in a local
2-CPU Ray.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import pytest
from fake_judge_server import FAULTS, SECRET, Action, FakeJudgeServer, chat, closed_port_url, make_config

from rayeval.errors import RayevalError
from rayeval.judge.pool import JudgePool


def test_transient_failures_are_retried(ray_local, tmp_path: Path) -> None:
    """Each request fails once in its own way (by its prompt), then succeeds on the retry."""
    seen: set[str] = set()

    def script(number: int, body: dict) -> Action | None:
        mode = body["messages"][0]["content"]
        if mode in seen:
            return None
        seen.add(mode)
        return FAULTS[mode]

    with FakeJudgeServer(script) as server, JudgePool(make_config(tmp_path, server.url)) as pool:
        outcomes = pool.complete([chat(mode) for mode in FAULTS])
    for mode, outcome in zip(FAULTS, outcomes):
        assert outcome.ok, (mode, outcome.error)
        assert outcome.response["choices"][0]["message"]["content"] in {"m", "M"}
    prompts = [body["messages"][0]["content"] for body in server.bodies]
    assert sorted(prompts) == sorted(list(FAULTS) * 2)  # each exactly twice: one failure, one retry


def test_retry_after_is_honoured(ray_local, tmp_path: Path) -> None:
    answers: list[float] = []

    def script(number: int, body: dict) -> Action | None:
        answers.append(time.monotonic())
        return ("json", 429, {"error": {"message": "slow down"}}, {"Retry-After": "1.5"}) if number == 0 else None

    with FakeJudgeServer(script) as server, JudgePool(make_config(tmp_path, server.url, backoff_max=0.1)) as pool:
        [outcome] = pool.complete([chat("hello")])
    assert outcome.ok
    # backoff alone would wait at most 0.1 s; the server asked for 1.5 s
    assert answers[1] - answers[0] >= 1.4


def test_failure_records_after_last_retry_or_bad_request(ray_local, tmp_path: Path) -> None:
    def script(number: int, body: dict) -> Action:
        if body["messages"][0]["content"] == "always 500":
            return ("json", 500, {"error": {"message": f"broken, key {SECRET}"}})
        return ("json", 400, {"error": {"message": "context too long"}})

    with FakeJudgeServer(script) as server, JudgePool(make_config(tmp_path, server.url, max_retries=2)) as pool:
        broken, bad = pool.complete([chat("always 500"), chat("too long")])
    prompts = [body["messages"][0]["content"] for body in server.bodies]
    assert prompts.count("always 500") == 3 and prompts.count("too long") == 1  # a 400 is not retried
    assert not broken.ok and not broken.fatal
    assert "gave up after 3 attempt(s)" in broken.error and "HTTP 500" in broken.error
    assert SECRET not in broken.error  # the endpoint echoed the key; the record must not
    assert not bad.ok and "HTTP 400" in bad.error and "context too long" in bad.error
    assert not list((tmp_path / "cache").rglob("*.json"))  # failures are not cached


def test_cache_answers_a_rerun_without_calls(ray_local, tmp_path: Path) -> None:
    requests = [chat(f"question {i}", logprobs=True, top_logprobs=5) for i in range(6)]
    with FakeJudgeServer() as server:
        with JudgePool(make_config(tmp_path, server.url)) as pool:
            first = pool.complete(requests)
        assert server.calls == 6
        with JudgePool(make_config(tmp_path, server.url)) as pool:
            second = pool.complete(requests + [chat("new one")])
        assert server.calls == 7  # only the new request went out
        assert pool.requests_sent == 1
    assert [o.response for o in second[:6]] == [o.response for o in first]
    stored = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    assert "question 3" in stored and SECRET not in stored
    # fully cached: the endpoint is now a closed port, so any call (even the endpoint check) would fail
    with JudgePool(make_config(tmp_path, closed_port_url())) as pool:
        again = pool.complete(requests)
    assert pool.requests_sent == 0 and [o.response for o in again] == [o.response for o in first]


def test_rejected_key_fails_fast_in_one_line(ray_local, tmp_path: Path) -> None:
    with FakeJudgeServer(key="the-right-key") as server:
        with JudgePool(make_config(tmp_path, server.url)) as pool, pytest.raises(RayevalError) as error:
            pool.complete([chat("hello")])
        assert server.calls == 0
    message = str(error.value)
    assert "rejected the API key" in message and "HTTP 401" in message and "\n" not in message
    assert SECRET not in message


def test_key_rejected_mid_run_is_fatal(ray_local, tmp_path: Path) -> None:
    revoked = lambda number, body: ("json", 401, {"error": {"message": "key revoked"}})  # noqa: E731
    with FakeJudgeServer(revoked) as server, JudgePool(make_config(tmp_path, server.url)) as pool:
        with pytest.raises(RayevalError, match="rejected the API key"):
            pool.complete([chat("hello")])
        assert server.calls == 1  # not retried


def test_unreachable_endpoint_fails_fast(ray_local, tmp_path: Path) -> None:
    started = time.monotonic()
    with JudgePool(make_config(tmp_path, closed_port_url())) as pool, pytest.raises(RayevalError, match="unreachable"):
        pool.complete([chat("hello")])
    assert time.monotonic() - started < 30


def test_key_comes_from_environment_and_is_sent(ray_local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYEVAL_JUDGE_API_KEY", "env-key-1")
    with FakeJudgeServer(key="env-key-1") as server, JudgePool(make_config(tmp_path, server.url, api_key=None)) as pool:
        [outcome] = pool.complete([chat("hello")])
    assert outcome.ok
    assert set(server.auth_headers) == {"Bearer env-key-1"}


def test_concurrency_cap_is_shared_by_the_pool(ray_local, tmp_path: Path) -> None:
    in_flight = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def script(number: int, body: dict) -> Action | None:
        with lock:
            in_flight["now"] += 1
            in_flight["peak"] = max(in_flight["peak"], in_flight["now"])
        time.sleep(0.1)
        with lock:
            in_flight["now"] -= 1
        return None

    with FakeJudgeServer(script) as server, JudgePool(make_config(tmp_path, server.url, concurrency=3)) as pool:
        outcomes = pool.complete([chat(f"q{i}") for i in range(12)])
    assert all(o.ok for o in outcomes) and server.calls == 12
    assert in_flight["peak"] == 3


def test_plain_completion_requests_go_to_the_completions_api(ray_local, tmp_path: Path) -> None:
    """A body with `prompt` is a plain completion: sent to /v1/completions as given (plus the
    model), its answer checked for choices[0].text (a body without it is retried) and cached."""
    request = {"prompt": "Q: Is the sky blue?\nA: Yes.\nTrue:", "max_tokens": 1, "temperature": 0, "logprobs": 2}
    no_text = ("json", 200, {"id": "x", "choices": [{"index": 0, "message": {"content": "yes"}}]})
    with FakeJudgeServer(lambda n, body: no_text if n == 0 else None) as server:
        with JudgePool(make_config(tmp_path, server.url)) as pool:
            [outcome] = pool.complete([request])
        with JudgePool(make_config(tmp_path, server.url)) as pool:
            [again] = pool.complete([request])
    assert outcome.ok and outcome.attempts == 2
    assert outcome.response["choices"][0]["logprobs"]["top_logprobs"][0][" yes"] == math.log(0.75)
    assert server.paths == ["/v1/completions"] * 2 and server.bodies[1] == {**request, "model": "judge"}
    assert again.response == outcome.response and server.calls == 2  # the rerun is answered from the cache
