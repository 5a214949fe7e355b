"""One judge service per job, and the one way benchmarks get a judge (`open_judge`).

Without it, every (model, benchmark) evaluation task opens a `JudgePool` of its own: with 20
checkpoints scored at once the judge sees 20 times the configured concurrency and rate limits,
and an in-cluster judge is started 20 times. The job's driver starts instead one named Ray actor,
`JudgeService` (`start_judge_service(name)`), and passes the name to the tasks
(`EvalContext.judge_service`); every task's requests then go through it:

    with open_judge(config, refs, ctx.judge_service) as judge:
        outcomes = judge.complete(requests)

The service holds one `JudgePool` per distinct judge (backend, model, endpoint: AlpacaEval's
judge and TruthfulQA's truth and info judges are three), created on first use and started when
the first request misses the cache, so an in-cluster judge starts once, when judged work first
appears, and stays up until `stop_judge_service(name)`. When a sweep's generation is over,
`grow_judges(name)` lets in-cluster judges start more replicas on the GPUs the engines freed. All callers of a judge share its pool's
workers and rate limiter: concurrency, requests/minute and tokens/minute hold for the whole job.
The actor is threaded (`JudgePool.complete` blocks on `ray.wait` and is thread-safe), so many
callers wait on it at once. A fatal endpoint error reaches the calling task as the one-line
`RayevalError` the pool raises; a judge whose start failed fails the callers that were waiting
for that start with the same error, and a later caller tries again.

Without a service name, `open_judge` opens a private `JudgePool` for the block, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, Protocol

from rayeval.endpoint.client import CallOutcome, display_url
from rayeval.errors import RayevalError
from rayeval.judge.config import JudgeConfig, JudgeOptionRefs
from rayeval.judge.pool import JudgePool

MAX_CALLERS = 256
"""Calls the service runs at once (threads). Each caller is an evaluation task holding a CPU, so a
cluster rarely has more; further calls wait for a free thread, not for the judge."""
STOP_TIMEOUT_S = 180.0
"""`stop_judge_service` waits this long for the pools to close (an in-cluster server takes up to
~90 s to stop) before killing the actor, which frees what it owns anyway."""


class JudgeKey(NamedTuple):
    """What makes a judge distinct: one pool each in the service."""

    backend: str
    model: str
    api_base: str | None

    @classmethod
    def of(cls, config: JudgeConfig) -> JudgeKey:
        return cls(config.backend_name, config.model, config.api_base)

    def describe(self) -> str:
        where = display_url(self.api_base) if self.api_base else "in the cluster"
        return f"{self.model} ({self.backend}, {where})"


class Judge(Protocol):
    """What a benchmark needs of a judge."""

    def complete(self, requests: list[dict[str, Any]]) -> list[CallOutcome]:
        """One outcome per request, in order; raises `RayevalError` on a fatal endpoint error."""
        ...


class JudgeService:
    """The job's judges, as a threaded Ray actor (`start_judge_service`); plain class, so tests
    and a single process can use it directly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[JudgeKey, JudgePool] = {}
        self._closed = False
        self._growing = False
        """Set by `grow`: judges created later start with every replica they may have."""

    def _pool(self, config: JudgeConfig, refs: JudgeOptionRefs) -> JudgePool:
        key = JudgeKey.of(config)
        with self._lock:
            if self._closed:
                raise RayevalError("the job's judge service is already closed; no judge requests can be sent")
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = JudgePool(config, refs)
                if self._growing:
                    pool.grow()  # not started yet: it will start with all its replicas
        if pool.config != config:
            theirs, mine = pool.config.model_dump(), config.model_dump()
            differ = sorted(name for name in mine if mine[name] != theirs[name])
            raise RayevalError(
                f"judge {key.describe()} already runs in the job's judge service with other settings ({', '.join(differ)}); "
                "one job uses one set of judge settings per judge"
            )
        return pool

    def complete(self, config: JudgeConfig, refs: JudgeOptionRefs, requests: list[dict[str, Any]]) -> list[CallOutcome]:
        """One outcome per request, through the pool of the judge `config` names (created on first
        use; the first caller's `refs` name the options in its errors)."""
        return self._pool(config, refs).complete(requests)

    def judges(self) -> list[dict[str, Any]]:
        """Each judge the service holds: `judge` (its description), `started` and `requests_sent`
        (requests that missed the cache), for reports and tests."""
        with self._lock:
            pools = list(self._pools.items())
        return [{"judge": key.describe(), "started": pool.started, "requests_sent": pool.requests_sent} for key, pool in pools]

    def grow(self) -> int:
        """Let every judge add in-cluster servers on the resources that are free now, and judges
        that start later start with all of theirs (see `JudgePool.grow`); returns how many servers
        were added."""
        with self._lock:
            self._growing = True
            pools = list(self._pools.values())
        return sum(pool.grow() for pool in pools)

    def close(self) -> None:
        """Close every pool (workers, limiters, in-cluster servers); later calls are refused."""
        with self._lock:
            pools, self._pools, self._closed = list(self._pools.values()), {}, True
        for pool in pools:
            pool.close()


_STARTED: dict[str, Any] = {}
"""Handles of the services this process started. Ray ends a non-detached actor once its owner
holds no handle to it, name or not; this keeps each one until `stop_judge_service`."""


def start_judge_service(name: str) -> Any:
    """Start the job's judge service as the named actor `name` (or return it, if this job already
    runs one by that name) and return its handle. It needs no CPU, lives until
    `stop_judge_service(name)` or the end of the driver's job, and starts no judge until a request
    misses the cache."""
    import ray

    handle = (
        ray.remote(JudgeService).options(name=name, num_cpus=0, max_concurrency=MAX_CALLERS, get_if_exists=True, max_restarts=0).remote()
    )
    _STARTED[name] = handle
    return handle


def stop_judge_service(name: str) -> None:
    """Close the pools of the service `name` and end the actor; nothing if it does not run."""
    import ray

    _STARTED.pop(name, None)
    try:
        handle = ray.get_actor(name)
    except ValueError:
        return
    try:
        ray.get(handle.close.remote(), timeout=STOP_TIMEOUT_S)
    except Exception:  # dead or stuck: killing it frees the actors and placement groups it owns
        pass
    ray.kill(handle)


def grow_judges(name: str) -> Any:
    """Ask the service `name` to grow its in-cluster judges onto freed resources, without waiting
    (the servers start while the scoring goes on); returns the call's object ref."""
    import ray

    try:
        service = ray.get_actor(name)
    except ValueError as exc:
        raise RayevalError(
            f"the job's judge service {name} has ended (its Ray actor is gone); rerun the same command to redo what is missing"
        ) from exc
    return service.grow.remote()


class ServiceJudge:
    """A judge reached through the job's judge service (the `Judge` `open_judge` gives when a
    service runs)."""

    def __init__(self, handle: Any, name: str, config: JudgeConfig, refs: JudgeOptionRefs) -> None:
        self._handle = handle
        self.name = name
        self.config = config
        self.refs = refs

    def __repr__(self) -> str:
        return f"ServiceJudge(service={self.name!r}, judge={JudgeKey.of(self.config).describe()!r})"

    def complete(self, requests: list[dict[str, Any]]) -> list[CallOutcome]:
        """One outcome per request, in order; a fatal endpoint error raises here as the service's
        one-line `RayevalError`, without the actor's traceback."""
        import ray

        try:
            return ray.get(self._handle.complete.remote(self.config, self.refs, requests))
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, RayevalError):
                raise RayevalError(str(cause)) from None
            raise
        except ray.exceptions.RayActorError as exc:
            raise RayevalError(
                f"the job's judge service {self.name!r} is gone ({type(exc).__name__}); its judge requests are lost, run evaluate again"
            ) from None


@contextmanager
def open_judge(config: JudgeConfig, refs: JudgeOptionRefs = JudgeOptionRefs(), service: str | None = None) -> Iterator[Judge]:
    """The judge `config` names: through the job's judge service `service` (a named actor), or,
    when `service` is None, a private `JudgePool` for the block (closed at its end)."""
    if service is None:
        with JudgePool(config, refs) as pool:
            yield pool
        return
    import ray

    try:
        handle = ray.get_actor(service)
    except ValueError:
        raise RayevalError(
            f"no judge service named {service!r} runs in this Ray job; start it with start_judge_service before the evaluations"
        ) from None
    yield ServiceJudge(handle, service, config, refs)
