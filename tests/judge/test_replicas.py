"""An in-cluster judge that runs as several servers, and grows when a sweep's engines are gone.

The judge pool, its Ray workers and the backend registry are real. The servers are stand-ins:
each "replica" is a real OpenAI-compatible HTTP server on 127.0.0.1 (`FakeJudgeServer`), since
starting several vLLM judge servers per test on these 2-core machines would take minutes. The
vLLM in-cluster judge itself runs in tests/benchmarks/alpacaeval/test_in_cluster_judge.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_judge_server import FakeJudgeServer, InFlight, chat, make_config
from pydantic import SecretStr

from rayeval.judge.backends import JUDGE_BACKENDS
from rayeval.judge.config import JudgeConfig, JudgeOptionRefs
from rayeval.judge.pool import JudgePool

BACKEND = "test-replicas"
HOLD_S = 0.05
IN_FLIGHT = InFlight(HOLD_S)
"""One counter for every replica: the pool's concurrency cap is for the judge, not per server."""


class FakeReplicas:
    """A replicated backend whose servers are `FakeJudgeServer`s sharing `IN_FLIGHT`; it can add
    `capacity - replicas` more, as free GPUs would allow."""

    key: SecretStr | None = None
    capacity = 3

    def __init__(self, config: JudgeConfig, refs: JudgeOptionRefs) -> None:
        self.servers = [self._serve() for _ in range(min(config.replicas, self.capacity))]

    def _serve(self) -> FakeJudgeServer:
        return FakeJudgeServer(IN_FLIGHT).__enter__()

    @property
    def api_base(self) -> str:
        return self.servers[0].url

    @property
    def api_bases(self) -> list[str]:
        return [server.url for server in self.servers]

    def add_replicas(self, count: int) -> list[str]:
        added = [self._serve() for _ in range(min(count, self.capacity - len(self.servers)))]
        self.servers += added
        return [server.url for server in added]

    def close(self) -> None:
        for server in self.servers:
            server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def replicas_backend():
    JUDGE_BACKENDS.register(BACKEND, f"{__name__}:FakeReplicas")
    yield


def config(tmp_path: Path, **overrides) -> JudgeConfig:
    return make_config(tmp_path, "http://unused", backend=BACKEND, api_key=None, concurrency=4, **overrides)


def served_by(pool: JudgePool) -> list[int]:
    server = pool._server
    assert isinstance(server, FakeReplicas)
    return [len(s.bodies) for s in server.servers]


def test_a_grown_judge_spreads_requests_over_every_replica_under_one_cap(ray_local, replicas_backend, tmp_path: Path) -> None:
    with JudgePool(config(tmp_path, max_replicas=3)) as pool:
        assert all(o.ok for o in pool.complete([chat(f"before {i}") for i in range(12)]))
        assert served_by(pool) == [12], "one replica until the engines are gone"
        IN_FLIGHT.peak = 0
        assert pool.grow() == 2
        assert all(o.ok for o in pool.complete([chat(f"after {i}") for i in range(60)]))
        counts = served_by(pool)
        assert len(counts) == 3 and all(count >= 10 for count in counts[1:]), f"new replicas got too little: {counts}"
        assert IN_FLIGHT.peak <= 4, f"the judge's concurrency cap is for all replicas together: peak {IN_FLIGHT.peak}"
        assert pool.grow() == 0, "already at --judge-max-replicas"


def test_without_max_replicas_nothing_grows(ray_local, replicas_backend, tmp_path: Path) -> None:
    with JudgePool(config(tmp_path, replicas=2)) as pool:
        assert all(o.ok for o in pool.complete([chat(f"q {i}") for i in range(20)]))
        assert all(count >= 5 for count in served_by(pool)), "requests go to both started replicas"
        assert pool.grow() == 0 and len(served_by(pool)) == 2


def test_a_judge_that_starts_after_grow_starts_with_all_its_replicas(ray_local, replicas_backend, tmp_path: Path) -> None:
    with JudgePool(config(tmp_path, max_replicas=2)) as pool:
        assert pool.grow() == 0 and not pool.started
        assert all(o.ok for o in pool.complete([chat(f"q {i}") for i in range(20)]))
        assert len(served_by(pool)) == 2


def test_max_replicas_below_replicas_is_one_line(tmp_path: Path) -> None:
    from rayeval.errors import RayevalError
    from rayeval.settings import validate_section

    with pytest.raises(RayevalError, match=r"^⟨judge.max_replicas⟩ 2 is below ⟨judge.replicas⟩ 3; raise it or leave it unset$"):
        validate_section("judge", JudgeConfig, {"model": "m", "replicas": 3, "max_replicas": 2})
