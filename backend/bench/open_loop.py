"""An open-loop HTTP load generator cheap enough to share a small machine with the API.

    python bench/open_loop.py SPEC.json   (bench/load.py --rate R starts it)

SPEC is a JSON object: `host`, `port`, `rate` (requests a second), `seconds`, `seed` and
`requests`, a list of [name, weight, [[path, authorization header], ...]]. Arrivals are
Poisson at `rate`; each request is sent at its scheduled time on an idle keep-alive
connection (a new one when none is idle), whatever the answers' speed, and its latency
counts from that scheduled time. It speaks just enough HTTP/1.1 for the API's answers
(Content-Length bodies) over asyncio streams, on uvloop when installed: a few tens of
microseconds of CPU a request, where an HTTP client library costs about a millisecond.

Prints one JSON object: per name the latencies (ms) and statuses, the lag between the
scheduled and the actual send (`send_lag_ms`, sorted), and the generator's own CPU seconds;
`bench/load.py` turns them into name=value lines.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import defaultdict
from typing import Any

# uvicorn closes a keep-alive connection idle for 5 s: one idle longer is not reused.
IDLE_LIMIT_S = 4.0


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.perf_counter()

    async def get(self, request: bytes) -> int:
        """Send one request; read its answer; the status."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
                break
        if length:
            await self.reader.readexactly(length)
        return status


def build_request(host: str, port: int, path: str, authorization: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n"
        f"Authorization: {authorization}\r\n\r\n"
    ).encode("latin-1")


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, rate = spec["host"], int(spec["port"]), float(spec["rate"])
    rng = random.Random(spec.get("seed", 1))
    names = [entry[0] for entry in spec["requests"]]
    weights = [entry[1] for entry in spec["requests"]]
    built = {
        entry[0]: [build_request(host, port, path, auth) for path, auth in entry[2]]
        for entry in spec["requests"]
    }
    idle: list[Connection] = []
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    failures: dict[str, int] = defaultdict(int)
    lags: list[float] = []
    samples: list[str] = []

    def reusable() -> Connection | None:
        while idle:
            connection = idle.pop()
            if time.perf_counter() - connection.idle_since < IDLE_LIMIT_S:
                return connection
            connection.writer.close()
        return None

    async def one(name: str, request: bytes, scheduled: float) -> None:
        lags.append((time.perf_counter() - scheduled) * 1000)
        connection = reusable()
        try:
            if connection is not None:
                try:
                    status = await connection.get(request)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        raise
                    # Closed by the server as it went idle, before reading the request: a
                    # GET is safe to send again on a new connection.
                    connection.writer.close()
                    connection = None
            if connection is None:
                connection = Connection(*await asyncio.open_connection(host, port))
                status = await connection.get(request)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            failures[name] += 1
            if len(samples) < 5:
                samples.append(f"{name}: {type(exc).__name__}: {exc}")
            if connection is not None:
                connection.writer.close()
            return
        latencies[name].append((time.perf_counter() - scheduled) * 1000)
        statuses[name][status] += 1
        connection.idle_since = time.perf_counter()
        idle.append(connection)

    # Warm a pool so the first second does not time connection set-up.
    for _ in range(min(64, int(rate // 4) + 1)):
        idle.append(Connection(*await asyncio.open_connection(host, port)))
    tasks: set[asyncio.Task[None]] = set()
    cpu_start = time.process_time()
    started = time.perf_counter()
    deadline = started + float(spec["seconds"])
    scheduled = started
    while True:
        scheduled += rng.expovariate(rate)
        if scheduled >= deadline:
            break
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        name = rng.choices(names, weights)[0]
        task = asyncio.create_task(one(name, rng.choice(built[name]), scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    elapsed = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_start
    for connection in idle:
        connection.writer.close()
    return {
        "elapsed_s": elapsed,
        "generator_cpu_s": cpu_s,
        "latencies_ms": latencies,
        "statuses": {name: dict(counts) for name, counts in statuses.items()},
        "failures": failures,
        "send_lag_ms": sorted(lags),
        "failure_samples": samples,
    }


def main() -> int:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
