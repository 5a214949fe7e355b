"""Judge pool throughput and rate limiting against a local server with a fixed latency.

    .venv/bin/python bench/bench_judge_pool.py [--latency 0.5] [--concurrency 16] [--requests 320]
                                               [--rpm 600] [--rpm-requests 60]

1. Concurrency: with a cap C and a server latency L the pool should sustain >= 0.90 x C/L
   requests per second. Prints achieved / (C/L).
2. Rate limit: with an RPM cap R, N requests should finish within 1.05 x N/R minutes.
   Prints elapsed / (N/R).

The server is a minimal asyncio HTTP server on 127.0.0.1 (loopback only), in a child process
so it never shares a GIL with the pool, that answers every chat completion after L seconds. The pool is started and warmed up before each
measurement, so actor start-up is not counted; the judge cache is off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time

ANSWER = json.dumps(
    {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "m"}}]}
).encode()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float) -> None:
    """Minimal HTTP/1.1 keep-alive: read a request, wait `latency`, answer like a judge."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if head.startswith(b"POST"):
                await asyncio.sleep(latency)
                body = ANSWER
            else:
                body = b'{"object": "list", "data": []}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def serve(latency: float, ports: multiprocessing.Queue) -> None:
    """Run the server forever, in its own process so it never competes with the pool for a GIL."""

    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: handle(r, w, latency), "127.0.0.1", 0, backlog=512)
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


def requests(n: int, tag: str) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"{tag} {i}"}], "max_tokens": 1} for i in range(n)]


def timed(pool, batch: list[dict]) -> float:
    pool.complete(requests(4, "warm-up"))  # starts the actors; not measured
    started = time.perf_counter()
    outcomes = pool.complete(batch)
    elapsed = time.perf_counter() - started
    failed = [o.error for o in outcomes if not o.ok]
    if failed:
        raise SystemExit(f"{len(failed)} requests failed, e.g. {failed[0]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=320)
    parser.add_argument("--rpm", type=float, default=600.0)
    parser.add_argument("--rpm-requests", type=int, default=60)
    args = parser.parse_args()

    import ray

    from rayeval.judge.config import JudgeConfig
    from rayeval.judge.pool import JudgePool

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    servers = []
    try:
        url, process = start_server(args.latency)
        servers.append(process)
        config = JudgeConfig(api_base=url, model="bench", concurrency=args.concurrency, timeout=30.0, cache_dir=None)
        with JudgePool(config) as pool:
            elapsed = timed(pool, requests(args.requests, "throughput"))
        ideal = args.concurrency / args.latency
        achieved = args.requests / elapsed
        print(f"concurrency: C={args.concurrency} L={args.latency}s N={args.requests}: {elapsed:.2f}s, "
              f"{achieved:.1f} req/s vs C/L={ideal:.1f} req/s -> ratio {achieved / ideal:.3f} (target >= 0.90)")  # fmt: skip

        url, process = start_server(0.02)
        servers.append(process)
        config = JudgeConfig(api_base=url, model="bench", concurrency=args.concurrency, rpm=args.rpm, timeout=30.0, cache_dir=None)
        with JudgePool(config) as pool:
            elapsed = timed(pool, requests(args.rpm_requests, "rate"))
        budget = args.rpm_requests / args.rpm * 60.0
        print(f"rpm cap: R={args.rpm:g}/min N={args.rpm_requests}: {elapsed:.2f}s vs N/R={budget:.2f}s "
              f"-> ratio {elapsed / budget:.3f} (target <= 1.05)")  # fmt: skip
    finally:
        for process in servers:
            process.terminate()
            process.join()
        ray.shutdown()


if __name__ == "__main__":
    main()
