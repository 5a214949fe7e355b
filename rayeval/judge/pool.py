"""The judge pool: a service that turns judge requests into responses or per-item failures.

    with JudgePool(config) as pool:
        outcomes = pool.complete([{"messages": [...], "max_tokens": 1, ...}, ...])

Requests are OpenAI chat-completion bodies (`messages`) or plain completion bodies (`prompt`),
without `model` (the pool adds the judge model).
The pool answers from its on-disk cache first and starts nothing when every answer is cached,
so recomputing from complete annotations makes no call at all. Otherwise it starts, once:
the in-cluster judge server when there is no endpoint; a check of the endpoint that fails fast
in one line when it is unreachable or rejects the key; and one async worker actor per 32
concurrent requests (at most 4), splitting the concurrency cap, with a rate-limiter actor
shared between them when there are several and a requests/tokens-per-minute cap is set.
Successful responses are cached as soon as their chunk returns, so an interrupted run loses
little. An in-cluster judge may run as several servers (`--judge-replicas`), and `grow` starts
more once a sweep's engines have freed their GPUs (`--judge-max-replicas`); every worker sends
to all of them in turn.

`complete` is thread-safe, so one pool can serve many callers at once (the job-wide
`rayeval.judge.service.JudgeService` does): the start happens once, under a lock. When a start
fails with a `RayevalError` (rejected key, unreachable endpoint, judge server that did not come
up or found no GPUs), the callers that were waiting for it get the same error rather than each
trying again (a judge server that cannot start would otherwise cost its start timeout per
caller); a caller that comes later tries again, since GPUs may have been freed meanwhile. Cache
entries are written atomically per file.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from rayeval.endpoint.client import CallOutcome, RetryPolicy, check_endpoint
from rayeval.errors import RayevalError
from rayeval.judge.cache import JudgeCache
from rayeval.judge.config import KEY_ENV_VARS, JudgeConfig, JudgeOptionRefs
from rayeval.options import option_ref

SLOTS_PER_WORKER = 32
"""Requests in flight per worker. Responses that arrive together are parsed one after another on
the worker's loop (~4 ms of CPU each in the openai client), so a big share makes the last ones
wait: at C=96, L=0.5 s, 64 per worker reached 0.87 x C/L, 32 per worker 0.91-0.93."""
MAX_WORKERS = 4
MAX_CHUNK = 16


class JudgePool:
    """Judge requests → `CallOutcome`s, through cache, rate limits, retries and Ray workers."""

    def __init__(self, config: JudgeConfig, refs: JudgeOptionRefs = JudgeOptionRefs()) -> None:
        """`refs`: the options that chose this judge, named in errors."""
        self.config = config
        self.refs = refs
        self.cache = JudgeCache(config.cache_dir) if config.cache_dir is not None else None
        self.requests_sent = 0
        """Requests that went to the endpoint (cache misses), for reports and tests."""
        self._workers: list[Any] = []
        self._actors: list[Any] = []
        self._server: Any = None
        self._lock = threading.Lock()
        """Guards the start (once) and `requests_sent`."""
        self._start_error: str | None = None
        self._start_failed_at = 0.0
        self._grow_lock = threading.Lock()
        """Serialises `grow` (which starts servers for minutes) without holding up requests."""
        self._grow_at_start = False

    def __repr__(self) -> str:
        return f"JudgePool(model={self.config.model!r}, started={bool(self._workers)})"

    def __enter__(self) -> JudgePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def complete(self, requests: list[dict[str, Any]]) -> list[CallOutcome]:
        """One outcome per request, in order; raises `RayevalError` on a fatal endpoint error."""
        outcomes: list[CallOutcome | None] = [None] * len(requests)
        missing = []
        for index, request in enumerate(requests):
            cached = self.cache.get(self.config.model, request) if self.cache is not None else None
            if cached is not None:
                outcomes[index] = CallOutcome(response=cached)
            else:
                missing.append(index)
        if missing:
            self._start()
            self._dispatch(requests, missing, outcomes)
        return [o if o is not None else CallOutcome(error="internal: no outcome") for o in outcomes]

    def _dispatch(self, requests: list[dict[str, Any]], missing: list[int], outcomes: list[CallOutcome | None]) -> None:
        import ray

        size = max(1, min(MAX_CHUNK, math.ceil(len(missing) / (4 * len(self._workers)))))
        chunks = [missing[i : i + size] for i in range(0, len(missing), size)]
        pending = {}
        for number, chunk in enumerate(chunks):
            worker = self._workers[number % len(self._workers)]
            pending[worker.complete_many.remote([requests[i] for i in chunk])] = chunk
        with self._lock:
            self.requests_sent += len(missing)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            chunk = pending.pop(done[0])
            for index, outcome in zip(chunk, ray.get(done[0])):
                if outcome.fatal:
                    raise RayevalError(outcome.error)
                if outcome.ok and self.cache is not None:
                    self.cache.put(self.config.model, requests[index], outcome.response)
                outcomes[index] = outcome

    @property
    def started(self) -> bool:
        """True once workers run (some request missed the cache)."""
        return bool(self._workers)

    def _start(self) -> None:
        """Start the server (in-cluster), check the endpoint, start limiter and workers — once,
        whatever the number of threads calling; a start that failed while this caller waited for
        it fails this caller too, without another attempt."""
        asked = time.monotonic()
        with self._lock:
            if self._workers:
                return
            if self._start_error is not None and self._start_failed_at >= asked:
                raise RayevalError(self._start_error)
            try:
                self._start_locked()
            except BaseException as exc:
                if isinstance(exc, RayevalError):
                    self._start_error, self._start_failed_at = str(exc), time.monotonic()
                self._close_server()  # an in-cluster judge that came up but cannot be used frees its GPUs now
                raise

    def _start_locked(self) -> None:
        import ray

        from rayeval.endpoint.ratelimit import LocalLimiter, RateSchedule
        from rayeval.judge.backends import ReplicatedBackend, start_backend
        from rayeval.judge.worker import ActorLimiter, JudgeWorker

        config = self.config
        if self._grow_at_start:  # generation is already over: start every replica allowed at once
            config = config.model_copy(update={"replicas": config.replica_limit})
        self._server = start_backend(config, self.refs)
        api_base, key = self._server.api_base, self._server.key
        hint = f"{option_ref('judge.api_key')} or {'/'.join(KEY_ENV_VARS)}"  # the driver may have resolved either into api_key
        check_endpoint(api_base, key, config.timeout, "judge", hint, option_ref(self.refs.api_base))
        count = max(1, min(MAX_WORKERS, math.ceil(config.concurrency / SLOTS_PER_WORKER)))
        shares = [config.concurrency // count + (1 if i < config.concurrency % count else 0) for i in range(count)]
        if count == 1 or (config.rpm is None and config.tpm is None):
            # One worker: its schedule is the pool's. No rate cap: nothing to share but a
            # Retry-After pause, which every worker sees from the server itself; an actor call
            # per request would cost more CPU than the requests (measured: 0.75 vs 0.9x C/L).
            limiter: LocalLimiter | ActorLimiter = LocalLimiter(RateSchedule(config.rpm, config.tpm))
        else:
            handle = ray.remote(RateSchedule).options(num_cpus=0).remote(config.rpm, config.tpm)
            self._actors.append(handle)
            limiter = ActorLimiter(handle)
        policy = RetryPolicy(config.max_retries, config.backoff_base, config.backoff_max)
        worker_cls = ray.remote(JudgeWorker).options(num_cpus=0, max_concurrency=1000)
        workers = [worker_cls.remote(api_base, key, config.model, config.timeout, policy, share, limiter) for share in shares]
        self._actors.extend(workers)
        if isinstance(self._server, ReplicatedBackend) and len(self._server.api_bases) > 1:
            ray.get([worker.add_endpoints.remote(self._server.api_bases[1:]) for worker in workers])
        self._workers = workers

    def grow(self) -> int:
        """Start more in-cluster judge servers, up to `config.replica_limit`, on resources that
        are free now (a sweep calls this once its engines are gone); the workers spread requests
        over them at once. A pool that has not started yet starts with that many. Returns how
        many servers were added."""
        import ray

        from rayeval.judge.backends import ReplicatedBackend

        with self._grow_lock:
            with self._lock:
                server, workers = self._server, list(self._workers)
                if not workers:
                    self._grow_at_start = True
                    return 0
            if not isinstance(server, ReplicatedBackend):
                return 0
            wanted = self.config.replica_limit - len(server.api_bases)
            added = server.add_replicas(wanted) if wanted > 0 else []
            if added:
                ray.get([worker.add_endpoints.remote(added) for worker in workers])
            return len(added)

    def close(self) -> None:
        """Stop workers, limiter and the backend (an in-cluster server); the cache stays."""
        if self._actors:
            import ray

            for actor in self._actors:
                ray.kill(actor)
        self._actors, self._workers = [], []
        self._close_server()

    def _close_server(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
