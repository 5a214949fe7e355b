"""The job-wide judge service against a real OpenAI-compatible HTTP server on 127.0.0.1.

Callers are Ray tasks, as (model, benchmark) evaluations are, in a local 4-CPU Ray; the service
is the real named actor; `FakeJudgeServer` (tests/fake_judge_server.py) counts the requests it
holds at once. The same callers with pools of their own (no service) show what the service
prevents: each pool applies the limits alone, so together they exceed them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_judge_server import SECRET, FakeJudgeServer, InFlight, chat, closed_port_url, make_config
from paths import SHARED

from rayeval.benchmarks import get
from rayeval.benchmarks.alpacaeval.options import AlpacaEvalOptions
from rayeval.benchmarks.base import EvalContext
from rayeval.benchmarks.truthfulqa.judge import INFO, TRUTH, judge_all
from rayeval.data import DataSource
from rayeval.errors import RayevalError
from rayeval.judge.config import JudgeConfig, JudgeOptionRefs
from rayeval.judge.service import ServiceJudge, grow_judges, open_judge, start_judge_service, stop_judge_service
from rayeval.store import ResultStore

SERVICE = "rayeval-test-judge-service"
CALLERS = 3


@pytest.fixture(scope="module")
def ray_four():
    """A Ray of its own with room for three caller tasks at once."""
    import ray

    ray.init(address="local", num_cpus=4, include_dashboard=False)  # never attach to another session's cluster
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the caller tasks are defined here
    yield
    ray.shutdown()


@pytest.fixture
def service(ray_four):
    handle = start_judge_service(SERVICE)
    yield handle
    stop_judge_service(SERVICE)


def service_config(tmp_path: Path, url: str, **overrides: Any) -> JudgeConfig:
    """`make_config` with the longer timeout and fewer retries these multi-caller tests use."""
    return make_config(tmp_path, url, **{"timeout": 5.0, "max_retries": 2, **overrides})


class Barrier:
    """A Ray actor the callers wait on, so their judged work starts together."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.arrived = 0
        self.event: asyncio.Event | None = None

    async def wait(self) -> None:
        if self.event is None:
            self.event = asyncio.Event()
        self.arrived += 1
        if self.arrived >= self.parties:
            self.event.set()
        await self.event.wait()


def call_judge(
    config: JudgeConfig, service: str | None, requests: list[dict[str, Any]], barrier: Any = None, warm_up: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One evaluation task's judging: open the judge as a benchmark does, optionally send one
    request first (so a private pool is started before the barrier) and wait for the others."""
    import ray

    try:
        with open_judge(config, JudgeOptionRefs(), service) as judge:
            if warm_up is not None:
                judge.complete([warm_up])
            if barrier is not None:
                ray.get(barrier.wait.remote())
            outcomes = judge.complete(requests)
    except RayevalError as exc:  # the type the task itself sees, not Ray's wrapper
        return {"error_type": f"{type(exc).__module__}.{type(exc).__qualname__}", "error": str(exc)}
    return {"ok": [o.ok for o in outcomes], "contents": [o.response["choices"][0]["message"]["content"] for o in outcomes if o.ok]}


def run_callers(config: JudgeConfig, service: str | None, batches: list[list[dict[str, Any]]], warm_up: bool = True) -> list[dict]:
    """The batches from concurrent Ray tasks (one CPU each, as evaluations), started together."""
    import ray

    barrier = ray.remote(Barrier).options(num_cpus=0).remote(len(batches))
    task = ray.remote(num_cpus=1, max_retries=0)(call_judge)
    refs = [
        task.remote(config, service, batch, barrier, chat(f"caller {number} warm-up") if warm_up else None)
        for number, batch in enumerate(batches)
    ]
    try:
        return ray.get(refs, timeout=240)
    finally:
        ray.kill(barrier)


def batches_of(count: int, prefix: str = "q") -> list[list[dict[str, Any]]]:
    return [[chat(f"caller {c} {prefix}{i}") for i in range(count)] for c in range(CALLERS)]


def judged_prompts(server: FakeJudgeServer) -> list[str]:
    return [body["messages"][0]["content"] for body in server.bodies if "warm-up" not in body["messages"][0]["content"]]


@pytest.mark.parametrize("shared", [True, False], ids=["one service", "private pools"])
def test_concurrency_cap_holds_across_callers(service, tmp_path: Path, shared: bool) -> None:
    """Three callers, 40 requests each, concurrency 4, 0.2 s per request: through the service the
    server never holds more than 4; with a pool each, the three pools together exceed 4."""
    in_flight = InFlight(0.2)
    with FakeJudgeServer(in_flight) as server:
        results = run_callers(service_config(tmp_path, server.url), SERVICE if shared else None, batches_of(40))
    print(f"\npeak in flight, {'one service' if shared else 'private pools'}: {in_flight.peak}")
    assert [len(r["ok"]) for r in results] == [40] * CALLERS and all(all(r["ok"]) for r in results)
    assert sorted(judged_prompts(server)) == sorted(b["messages"][0]["content"] for batch in batches_of(40) for b in batch)
    if shared:
        assert in_flight.peak == 4
    else:
        assert in_flight.peak > 4


@pytest.mark.parametrize("shared", [True, False], ids=["one service", "private pools"])
def test_rpm_cap_holds_across_callers(service, tmp_path: Path, shared: bool) -> None:
    """rpm 240 (one request per 0.25 s) with concurrency 64 (two workers sharing a limiter actor):
    through the service the 24 requests of three callers span >= 23 x 0.25 s; private pools each
    pace only their own 8."""
    in_flight = InFlight(0.0)
    rpm, count = 240.0, 8
    with FakeJudgeServer(in_flight) as server:
        config = service_config(tmp_path, server.url, rpm=rpm, concurrency=64)
        results = run_callers(config, SERVICE if shared else None, batches_of(count))
    assert all(all(r["ok"]) and len(r["ok"]) == count for r in results)
    arrivals = sorted(
        at for at, prompt in zip(in_flight.arrivals, [b["messages"][0]["content"] for b in server.bodies]) if "warm-up" not in prompt
    )
    span, floor = arrivals[-1] - arrivals[0], (CALLERS * count - 1) * 60.0 / rpm
    print(
        f"\n{CALLERS * count} requests at rpm {rpm:g}, {'one service' if shared else 'private pools'}: {span:.2f} s (schedule {floor:.2f} s)"
    )
    if shared:
        assert span >= floor - 0.3
    else:
        assert span < 0.6 * floor


def test_distinct_judges_get_their_own_pools(service, tmp_path: Path) -> None:
    """Two judge models at one endpoint are two pools; a second caller of a judge joins its pool."""
    import ray

    with FakeJudgeServer() as server:
        first = service_config(tmp_path, server.url, model="judge-a")
        second = service_config(tmp_path, server.url, model="judge-b")
        a = call_judge(first, SERVICE, [chat("a0"), chat("a1")])
        b = call_judge(second, SERVICE, [chat("b0")])
        again = call_judge(first, SERVICE, [chat("a2")])
    assert a["ok"] == [True, True] and b["ok"] == [True] and again["ok"] == [True]
    assert sorted(body["model"] for body in server.bodies) == ["judge-a", "judge-a", "judge-a", "judge-b"]
    judges = {j["judge"]: j for j in ray.get(service.judges.remote())}
    base = server.url
    assert judges == {
        f"judge-a (endpoint, {base})": {"judge": f"judge-a (endpoint, {base})", "started": True, "requests_sent": 3},
        f"judge-b (endpoint, {base})": {"judge": f"judge-b (endpoint, {base})", "started": True, "requests_sent": 1},
    }


def test_cached_requests_are_not_sent_again(service, tmp_path: Path) -> None:
    """The service answers from the cache first; a judge whose every answer is cached is never
    started (no endpoint check: its endpoint here is a closed port)."""
    import ray

    requests = [chat(f"question {i}") for i in range(5)]
    with FakeJudgeServer() as server:
        config = service_config(tmp_path, server.url)
        first = call_judge(config, SERVICE, requests)
        second = call_judge(config, SERVICE, requests + [chat("new one")])
        assert server.calls == 6  # only the new request went out the second time
    assert second["contents"][:5] == first["contents"]
    closed = service_config(tmp_path, closed_port_url())
    assert call_judge(closed, SERVICE, requests)["contents"] == first["contents"]
    states = {j["judge"].split(", ")[-1].rstrip(")"): (j["started"], j["requests_sent"]) for j in ray.get(service.judges.remote())}
    assert states == {server.url: (True, 6), closed.api_base: (False, 0)}


def test_rejected_key_is_one_line_in_each_caller(service, tmp_path: Path) -> None:
    """A fatal endpoint error reaches every calling task as a plain one-line RayevalError (not
    Ray's wrapper with the actor's traceback). The callers waiting for the failed start (the
    endpoint check takes 1 s here) share its error; a caller that comes later tries again."""
    with FakeJudgeServer(key="the-right-key", models_latency=1.0) as server:
        config = service_config(tmp_path, server.url)
        results = run_callers(config, SERVICE, [[chat(f"hello {c}")] for c in range(CALLERS)], warm_up=False)
        assert len(server.auth_headers) == 1  # one endpoint check for the three callers
        results.append(call_judge(config, SERVICE, [chat("later")]))
        assert len(server.auth_headers) == 2 and server.calls == 0
    for result in results:
        assert result["error_type"] == "rayeval.errors.RayevalError"
        assert "rejected the API key" in result["error"] and "HTTP 401" in result["error"]
        assert "\n" not in result["error"] and SECRET not in result["error"]


def test_key_revoked_mid_run_is_one_line(service, tmp_path: Path) -> None:
    revoked = lambda number, body: ("json", 401, {"error": {"message": "key revoked"}})  # noqa: E731
    with FakeJudgeServer(revoked) as server:
        result = call_judge(service_config(tmp_path, server.url), SERVICE, [chat("hello")])
    assert result["error_type"] == "rayeval.errors.RayevalError" and "rejected the API key" in result["error"]
    assert "\n" not in result["error"]


def test_other_settings_for_a_running_judge_are_refused(service, tmp_path: Path) -> None:
    with FakeJudgeServer() as server:
        assert call_judge(service_config(tmp_path, server.url), SERVICE, [chat("x")])["ok"] == [True]
        result = call_judge(service_config(tmp_path, server.url, concurrency=8), SERVICE, [chat("y")])
    assert result["error_type"] == "rayeval.errors.RayevalError"
    assert "already runs in the job's judge service with other settings (concurrency)" in result["error"]


def test_open_judge_without_or_with_a_missing_service(ray_four, tmp_path: Path) -> None:
    from rayeval.judge.pool import JudgePool

    config = service_config(tmp_path, closed_port_url())
    with open_judge(config) as judge:
        assert isinstance(judge, JudgePool)
    with pytest.raises(RayevalError, match="no judge service named 'nobody'") as error, open_judge(config, service="nobody"):
        pass
    assert "\n" not in str(error.value)


def test_stopped_service_is_gone(ray_four, tmp_path: Path) -> None:
    import ray

    start_judge_service("short-lived")
    with open_judge(service_config(tmp_path, closed_port_url()), service="short-lived") as judge:
        assert isinstance(judge, ServiceJudge)
    stop_judge_service("short-lived")
    stop_judge_service("short-lived")  # nothing left: no error
    with pytest.raises(ValueError):
        ray.get_actor("short-lived")
    with pytest.raises(RayevalError, match="judge service short-lived has ended.*rerun the same command") as error:
        grow_judges("short-lived")  # a sweep whose service died: one line, not Ray's lookup traceback
    assert "\n" not in str(error.value)


# -- the benchmarks' judges through the service ------------------------------------------------


def test_alpacaeval_and_truthfulqa_judges_share_one_service(service, tmp_path: Path) -> None:
    """AlpacaEval's judge (chat) and TruthfulQA's truth and info judges (plain completions) of one
    job: three judges, three pools, in the one service the contexts name."""
    import ray

    eval_set = json.loads((SHARED / "data/alpacaeval/alpaca_eval.json").read_text())[:3]
    data_dir = tmp_path / "data"
    (data_dir / "alpacaeval").mkdir(parents=True)
    (data_dir / "alpacaeval/alpaca_eval.json").write_text(json.dumps(eval_set))
    out_dir = tmp_path / "results" / "m" / "alpacaeval2"
    out_dir.mkdir(parents=True)
    outputs = [
        {"instruction": r["instruction"], "output": r["output"] + " More." * (i + 1), "generator": "m"} for i, r in enumerate(eval_set)
    ]
    (out_dir / "model_outputs.json").write_text(json.dumps(outputs))
    cache_dir = ResultStore(tmp_path / "results").judge_cache_dir()

    with FakeJudgeServer() as server:
        judge = JudgeConfig(api_base=server.url, api_key=SECRET, model="judge", timeout=5.0, max_retries=1, cache_dir=cache_dir)
        ctx = EvalContext(
            model_id="m",
            out_dir=out_dir,
            data=DataSource(data_dir=data_dir),
            options=AlpacaEvalOptions(),
            judge=judge,
            judge_service=SERVICE,
        )
        scores = {s.metric: s.value for s in get("alpacaeval2").evaluate(ctx)}
        prompts = ["Q: Is the sky blue?\nA: Yes.\nTrue:", "Q: Is fire cold?\nA: No.\nTrue:"]
        truth = judge_all(TRUTH, "truth-judge", server.url, prompts, judge, SERVICE)
        info = judge_all(INFO, "info-judge", server.url, prompts, judge, SERVICE)
    assert scores["win_rate"] == pytest.approx(0.8)  # the fake judge prefers the longer output with P = 0.8
    assert [v.score for v in truth + info] == pytest.approx([0.75] * 4)
    assert sorted(body["model"] for body in server.bodies) == ["info-judge"] * 2 + ["judge"] * 3 + ["truth-judge"] * 2
    judges = sorted((j["judge"].split(" ")[0], j["requests_sent"]) for j in ray.get(service.judges.remote()))
    assert judges == [("info-judge", 2), ("judge", 3), ("truth-judge", 2)]
