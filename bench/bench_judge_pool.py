"""Judge service throughput and rate limiting across a sweep's models, against a local server with a fixed latency.

    .venv/bin/python bench/bench_judge_pool.py [--quick] [--json PATH] [--models 4] [--latency 0.5]
                                               [--concurrency 16] [--requests 320] [--rpm 600] [--rpm-requests 60]

One `JudgeService` (the named Ray actor a sweep starts) is shared by `--models` evaluation tasks,
one per model, as in `rayeval sweep`: each task sends its own share of the requests through
`open_judge(config, service=name)` at the same time as the others.
1. Concurrency: with a cap C and a server latency L the service should sustain >= 0.90 x C/L
   requests per second over all models together, and the server must never see more than C
   requests at once. Prints achieved / (C/L).
2. Rate limit: with an RPM cap R, N requests (all models together) should finish within
   1.05 x N/R minutes. Prints elapsed / (N/R).

The server is a minimal asyncio HTTP server on 127.0.0.1 (loopback only), in a child process
so it never shares a GIL with the pool, that answers every chat completion after L seconds and
counts the requests it holds at once. The service's judge is started and warmed up before each
measurement, so actor start-up is not counted; the judge cache is off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
from typing import Any

from _table import Row, add_table_arguments, emit

ANSWER = json.dumps(
    {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "m"}}]}
).encode()
QUICK_REQUESTS = 160
"""Requests of the concurrency measurement with --quick: 5 s of ideal time at C=16, L=0.5 s."""
THROUGHPUT_TARGET = 0.90
RPM_TARGET = 1.05


class Held:
    """Requests the server holds right now, and the most it ever held (the cap C, seen from the
    server's side)."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float, held: Held) -> None:
    """Minimal HTTP/1.1 keep-alive: read a request, wait `latency`, answer like a judge; a GET
    answers with the peak number of requests held at once."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if head.startswith(b"POST"):
                held.now += 1
                held.peak = max(held.peak, held.now)
                await asyncio.sleep(latency)
                held.now -= 1
                body = ANSWER
            else:
                body = json.dumps({"object": "list", "data": [], "peak": held.peak}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def serve(latency: float, ports: multiprocessing.Queue) -> None:
    """Run the server forever, in its own process so it never competes with the pool for a GIL."""

    async def main() -> None:
        held = Held()
        server = await asyncio.start_server(lambda r, w: handle(r, w, latency, held), "127.0.0.1", 0, backlog=512)
        ports.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def start_server(latency: float) -> tuple[str, multiprocessing.Process]:
    """Start a server process; returns its base URL and the process."""
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    process = context.Process(target=serve, args=(latency, ports), daemon=True)
    process.start()
    return f"http://127.0.0.1:{ports.get(timeout=60)}/v1", process


def peak_held(url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(f"{url}/models", timeout=10) as answer:
        return json.loads(answer.read())["peak"]


def requests(n: int, tag: str) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"{tag} {i}"}], "max_tokens": 1} for i in range(n)]


def evaluate_model(service: str, config: Any, model: str, count: int) -> list[str]:
    """One model's judged evaluation, as a sweep's scoring task runs it: its requests through the
    job's judge service. Returns the errors."""
    from rayeval.judge.service import open_judge

    with open_judge(config, service=service) as judge:
        outcomes = judge.complete(requests(count, model))
    return [str(o.error) for o in outcomes if not o.ok]


def timed_sweep(service: str, config: Any, models: int, total: int) -> float:
    """Seconds for `models` concurrent evaluation tasks sharing `total` requests through one
    judge service named `service` (started and warmed up first, not timed)."""
    import ray

    from rayeval.judge.service import start_judge_service, stop_judge_service

    start_judge_service(service)
    try:
        task = ray.remote(num_cpus=0)(evaluate_model)  # scoring tasks wait on the judge, not on a CPU
        ray.get(task.remote(service, config, "warm-up", 4))  # starts the judge's workers; not measured
        shares = [total // models + (1 if m < total % models else 0) for m in range(models)]
        started = time.perf_counter()
        errors = [e for share in ray.get([task.remote(service, config, f"model-{m}", n) for m, n in enumerate(shares)]) for e in share]
        elapsed = time.perf_counter() - started
    finally:
        stop_judge_service(service)
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_table_arguments(parser)
    parser.add_argument("--models", type=int, default=4, help="evaluation tasks sharing the service (one per model)")
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=None, help="[default: 320; 160 with --quick]")
    parser.add_argument("--rpm", type=float, default=600.0)
    parser.add_argument("--rpm-requests", type=int, default=60)
    args = parser.parse_args()
    total = args.requests or (QUICK_REQUESTS if args.quick else 2 * QUICK_REQUESTS)

    import ray

    from rayeval.judge.config import JudgeConfig

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    servers = []
    try:
        url, process = start_server(args.latency)
        servers.append(process)
        config = JudgeConfig(api_base=url, model="bench", concurrency=args.concurrency, timeout=30.0, cache_dir=None)
        elapsed = timed_sweep("bench-judge-concurrency", config, args.models, total)
        peak = peak_held(url)
        ideal = args.concurrency / args.latency
        achieved = total / elapsed
        throughput = achieved / ideal
        print(f"concurrency: {args.models} models, C={args.concurrency} L={args.latency}s N={total}: {elapsed:.2f}s, "
              f"{achieved:.1f} req/s vs C/L={ideal:.1f} req/s -> ratio {throughput:.3f}; server held at most {peak} at once")  # fmt: skip

        url, process = start_server(0.02)
        servers.append(process)
        config = JudgeConfig(api_base=url, model="bench", concurrency=args.concurrency, rpm=args.rpm, timeout=30.0, cache_dir=None)
        elapsed = timed_sweep("bench-judge-rpm", config, args.models, args.rpm_requests)
        budget = args.rpm_requests / args.rpm * 60.0
        print(f"rpm cap: {args.models} models, R={args.rpm:g}/min N={args.rpm_requests}: {elapsed:.2f}s vs N/R={budget:.2f}s "
              f"-> ratio {elapsed / budget:.3f}")  # fmt: skip
    finally:
        for process in servers:
            process.terminate()
            process.join()
        ray.shutdown()
    emit(
        [
            Row(
                name=f"judge service, {args.models} models: throughput / (C/L)",
                measured=f"{achieved:.1f} req/s, C={args.concurrency}, L={args.latency:g} s, peak held {peak}",
                target=f">= {THROUGHPUT_TARGET:.2f}",
                ratio=throughput,
                passed=throughput >= THROUGHPUT_TARGET and peak <= args.concurrency,
            ),
            Row(
                name=f"judge service, {args.models} models: time / (N/R) under an RPM cap",
                measured=f"{elapsed:.2f} s for N={args.rpm_requests} at R={args.rpm:g}/min",
                target=f"<= {RPM_TARGET:.2f}",
                ratio=elapsed / budget,
                passed=elapsed / budget <= RPM_TARGET,
            ),
        ],
        args,
    )


if __name__ == "__main__":
    main()
