"""A real OpenAI-compatible HTTP server on 127.0.0.1 that plays the judge, for tests.

Test double, deliberately: the real judges (GPT-4, the TruthfulQA judge models) cannot run here.
`FakeJudgeServer` is a small stdlib HTTP server in a thread of the test process (loopback only).
A script decides per call what it does: answer like a judge, return 429 (with or without
Retry-After), 500, a malformed body, stall past the timeout, or drop the connection.
"""

from __future__ import annotations

import json
import math
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rayeval.judge.config import JudgeConfig

Action = tuple  # ("json", status, body, headers) | ("raw", status, text) | ("sleep", seconds) | ("drop",)
SECRET = "sk-test-SECRET-123456"

OUTPUT_RE = re.compile(r'"(?:model_identifier|model)": "(m|M)",\s*"output": """(.*?)"""', re.DOTALL)


def judge_answer(body: dict[str, Any]) -> dict[str, Any]:
    """Answer like an AlpacaEval judge that prefers the longer output.

    Logprob requests get top_logprobs with P(longer) = 0.8; function-calling requests get a
    `make_partial_leaderboard` call ranking the longer output first; other requests get text.
    """
    prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
    outputs = dict(OUTPUT_RE.findall(prompt))
    best = "m" if len(outputs.get("m", "")) >= len(outputs.get("M", "")) else "M"
    other = "M" if best == "m" else "m"
    message: dict[str, Any] = {"role": "assistant", "content": best}
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop", "message": message}
    if body.get("tools"):
        ranking = [{"model": best, "rank": 1}, {"model": other, "rank": 2}]
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": "call_0",
                "type": "function",
                "function": {"name": "make_partial_leaderboard", "arguments": json.dumps({"ordered_models": ranking})},
            }
        ]
    if body.get("logprobs"):
        top = [
            {"token": best, "logprob": -0.2231435513142097, "bytes": None},
            {"token": other, "logprob": -1.6094379124341003, "bytes": None},
            {"token": "The", "logprob": -9.0, "bytes": None},
        ]
        choice["logprobs"] = {"content": [{"token": best, "logprob": top[0]["logprob"], "bytes": None, "top_logprobs": top}]}
    return {
        "id": "cmpl-0",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model"),
        "choices": [choice],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    }


def completion_answer(body: dict[str, Any], top: dict[str, float] | None = None) -> dict[str, Any]:
    """A plain completion (`/v1/completions`) of one token with its top logprobs, in the legacy
    format OpenAI and vLLM share; by default P(" yes") = 0.75, P(" no") = 0.25."""
    top = top if top is not None else {" yes": math.log(0.75), " no": math.log(0.25)}
    token = max(top, key=top.get) if top else " yes"
    return {
        "id": "cmpl-0",
        "object": "text_completion",
        "created": 0,
        "model": body.get("model"),
        "choices": [
            {
                "index": 0,
                "text": token,
                "finish_reason": "length",
                "logprobs": {"tokens": [token], "token_logprobs": [top.get(token, 0.0)], "top_logprobs": [top], "text_offset": [0]},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    }


def default_answer(body: dict[str, Any]) -> dict[str, Any]:
    """Plain completion bodies (`prompt`) get `completion_answer`, chat bodies `judge_answer`."""
    return completion_answer(body) if "prompt" in body else judge_answer(body)


class FakeJudgeServer:
    """OpenAI-compatible `/v1/chat/completions`, `/v1/completions` and `/v1/models` on
    127.0.0.1:<free port>.

    `script(call_number, body)` returns an `Action` or None (answer as a judge); calls are
    numbered from 0 across the server's life. `key` set: requests without that bearer get 401.
    `bodies` and `paths` record every POST. `models_latency`: seconds every GET (the pool's
    endpoint check) takes before it is answered.
    """

    def __init__(
        self,
        script: Callable[[int, dict], Action | None] | None = None,
        key: str | None = None,
        latency: float = 0.0,
        models_latency: float = 0.0,
    ) -> None:
        self.script = script or (lambda n, body: None)
        self.key = key
        self.latency = latency
        self.models_latency = models_latency
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.auth_headers: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                auth = self.headers.get("Authorization", "")
                with server._lock:
                    server.auth_headers.append(auth)
                if server.key is not None and auth != f"Bearer {server.key}":
                    self._send(401, json.dumps({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}))
                    return False
                return True

            def do_GET(self) -> None:
                if server.models_latency:
                    time.sleep(server.models_latency)
                if self._authorized():
                    self._send(200, json.dumps({"object": "list", "data": [{"id": "judge", "object": "model"}]}))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if not self._authorized():
                    return
                with server._lock:
                    number = len(server.bodies)
                    server.bodies.append(body)
                    server.paths.append(self.path)
                if server.latency:
                    time.sleep(server.latency)
                action = server.script(number, body)
                if action is None:
                    self._send(200, json.dumps(default_answer(body)))
                elif action[0] == "json":
                    self._send(action[1], json.dumps(action[2]), action[3] if len(action) > 3 else None)
                elif action[0] == "raw":
                    self._send(action[1], action[2])
                elif action[0] == "sleep":
                    time.sleep(action[1])
                    self._send(200, json.dumps(default_answer(body)))
                elif action[0] == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def calls(self) -> int:
        return len(self.bodies)

    def __enter__(self) -> FakeJudgeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class InFlight:
    """A `FakeJudgeServer` script that holds every request `seconds` and counts how many are in
    flight at once (`peak`), when each arrived (`arrivals`, monotonic seconds), and answers as a
    judge."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.now = 0
        self.peak = 0
        self.arrivals: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, number: int, body: dict) -> Action | None:
        with self._lock:
            self.arrivals.append(time.monotonic())
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.seconds)
        with self._lock:
            self.now -= 1
        return None


FAULTS: dict[str, Action] = {
    "429": ("json", 429, {"error": {"message": "rate limited"}}),
    "429-retry-after": ("json", 429, {"error": {"message": "rate limited"}}, {"Retry-After": "0.05"}),
    "500": ("json", 500, {"error": {"message": "boom"}}),
    "503": ("json", 503, {"error": {"message": "overloaded"}}),
    "malformed-text": ("raw", 200, "this is not json"),
    "malformed-no-choices": ("json", 200, {"id": "x", "choices": []}),
    "timeout": ("sleep", 3.0),
    "dropped-connection": ("drop",),
}
"""Every way an OpenAI-compatible endpoint fails that a client must survive by retrying. The
timeout stalls 3 s: past the 1–2 s request timeouts the tests set."""


class RandomFaults:
    """A `FakeJudgeServer` script that fails about `rate` of requests (seeded, so a run is
    repeatable), each failure one of `kinds` (names in `FAULTS`) drawn at random; `on = False`
    answers everything (a rerun against a healed endpoint). `failed` counts the faults served."""

    def __init__(self, rate: float = 0.3, kinds: tuple[str, ...] = tuple(FAULTS), seed: int = 11) -> None:
        self.rate = rate
        self.kinds = kinds
        self.on = True
        self.failed = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def __call__(self, number: int, body: dict) -> Action | None:
        with self._lock:
            roll, kind = self._random.random(), self._random.choice(self.kinds)
            if not self.on or roll >= self.rate:
                return None
            self.failed += 1
        return FAULTS[kind]


def make_config(tmp_path: Path, url: str, **overrides: Any) -> JudgeConfig:
    """Judge settings for tests against a `FakeJudgeServer` at `url`: short timeouts and
    backoff, the test key, a cache under `tmp_path`."""
    settings: dict[str, Any] = {
        "api_base": url,
        "api_key": SECRET,
        "model": "judge",
        "concurrency": 4,
        "timeout": 2.0,
        "max_retries": 3,
        "backoff_base": 0.05,
        "backoff_max": 0.2,
    }
    settings.update(overrides)
    return JudgeConfig(cache_dir=tmp_path / "cache", **settings)


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], "max_tokens": 1, **extra}
