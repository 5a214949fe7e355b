"""Score LiveBench answers in parallel worker processes, each answer under a wall-clock limit.

A worker that overruns its limit is killed (with everything it started) and replaced, and the
answer is reported as a timeout error; nothing here can hang the evaluation.

Workers come from multiprocessing's fork server: `evaluate` runs inside a Ray worker, whose
threads make a plain fork unsafe, but the fork server is a fresh single-threaded process. It
imports `preload` once (sympy, pandas, both LaTeX parsers set up), and every worker, replacements
included, is a fork of it that starts ready; spawned workers each spent ~2 s of CPU on that.
The fork server lives as long as the process that started it; its preload list is fixed then.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any


@dataclass(frozen=True)
class Job:
    """One answer to score: `scorer` is a "module:function" spec (see `scorer_spec`)."""

    key: str
    scorer: str
    question: dict
    answer: str


@dataclass(frozen=True)
class Outcome:
    """A score, or the reason there is none."""

    score: float | None
    error: str | None = None


def score_one(scorer: str, question: dict, answer: str) -> Outcome:
    """Run the scorer; any exception becomes an error outcome."""
    from rayeval.registry import load_target

    try:
        return Outcome(score=load_target(scorer)(question, answer))  # type: ignore[operator]
    except Exception as exc:  # a scorer signals "cannot score" by raising
        return Outcome(score=None, error=f"{type(exc).__name__}: {exc}"[:500])


def _worker_main(conn: Connection) -> None:
    os.setpgrp()  # own process group, so a timeout kills what the scorer started too
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            outcome = score_one(job.scorer, job.question, job.answer)
        except BaseException:  # keep the worker alive and the answer accounted for
            outcome = Outcome(score=None, error=traceback.format_exc(limit=2)[-500:])
        conn.send((job.key, outcome))


class _Worker:
    def __init__(self, context: Any) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.job: Job | None = None
        self.deadline = 0.0

    def give(self, job: Job, timeout: float) -> None:
        self.conn.send(job)
        self.job, self.deadline = job, time.monotonic() + timeout

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def ask_to_stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:  # already gone
            pass

    def stop(self) -> None:
        """Wait (after `ask_to_stop`) for the worker to exit; kill it after 5 s."""
        self.process.join(5)
        if self.process.is_alive():
            self.kill()
        else:
            self.conn.close()


def score_jobs(jobs: list[Job], workers: int, timeout: float) -> dict[str, Outcome]:
    """Outcome of every job, by key. `timeout` is the wall-clock limit of one answer (seconds)."""
    if not jobs:
        return {}
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["rayeval.benchmarks.livebench.preload"])  # no effect once it runs
    pending = list(reversed(jobs))
    outcomes: dict[str, Outcome] = {}
    pool = [_Worker(context) for _ in range(max(1, min(workers, len(jobs))))]
    try:
        while len(outcomes) < len(jobs):
            for index, worker in enumerate(pool):
                if worker.job is None and pending:
                    job = pending.pop()
                    try:
                        worker.give(job, timeout)
                    except OSError:  # died while idle: replace it and retry the job
                        pending.append(job)
                        pool[index] = _replace(worker, context)
            busy = [worker for worker in pool if worker.job is not None]
            wait_for = max(0.0, min(worker.deadline for worker in busy) - time.monotonic())
            ready = wait([worker.conn for worker in busy] + [worker.process.sentinel for worker in busy], wait_for)
            for index, worker in enumerate(pool):
                running = worker.job
                if running is None:
                    continue
                if worker.conn in ready:
                    try:
                        key, outcome = worker.conn.recv()
                    except (EOFError, OSError):
                        key, outcome = running.key, Outcome(None, "scoring worker died")
                        pool[index] = _replace(worker, context)
                    else:
                        worker.job = None
                    outcomes[key] = outcome
                elif worker.process.sentinel in ready:
                    worker.process.join(5)
                    outcomes[running.key] = Outcome(None, f"scoring worker died (exit code {worker.process.exitcode})")
                    pool[index] = _replace(worker, context)
                elif time.monotonic() >= worker.deadline:
                    outcomes[running.key] = Outcome(None, f"scoring timed out after {timeout:g} s")
                    pool[index] = _replace(worker, context)
    finally:
        _shut_down(pool)
    return outcomes


def _shut_down(pool: list[_Worker]) -> None:
    """Tell every idle worker to exit, then wait for all at once; kill busy or stuck ones."""
    for worker in pool:
        if worker.job is None:
            worker.ask_to_stop()
        else:
            worker.kill()
    for worker in pool:
        if worker.job is None:
            worker.stop()


def _replace(worker: _Worker, context: Any) -> _Worker:
    worker.kill()
    return _Worker(context)
