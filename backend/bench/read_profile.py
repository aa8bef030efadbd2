"""API CPU of one read request, per route of the load bench's read mix, and where it goes.

    cd backend && python bench/read_profile.py [--requests 300] [--database-url URL]
    cd backend && python bench/read_profile.py --profile [--top 30]

Recreates a scratch PostgreSQL database (default `triage_read_profile`; a `sqlite:///` URL
works too), starts the Zendesk simulator and one uvicorn worker as the load bench does,
gives one user 8 processed tickets, then sends each read of the load bench's mix
(`bench/load.py`'s READS) `--requests` times, one after another on one keep-alive
connection, and divides the API process's CPU time (from /proc) by the count. Sequential
requests make the figure the server's own: the client's CPU is not in it, and nothing
queues. Prints `cpu_ms_<route>=` per route and `cpu_ms_per_read_mix=` (weighted as the
load bench's mix, the figure `api_cpu_ms_per_read=` of `load.py --reads-only` estimates).

`--profile` serves the same app inside this process instead and runs each route under
cProfile, printing the `--top` functions by own CPU time (and cumulative time) per route. The
routes' worker-thread hops run inline there (cProfile sees one thread only), so the
per-route totals of that mode are not the served figures: use it to find where the time
goes, and the default mode to measure.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

import httpx  # noqa: E402

from bench import harness, load  # noqa: E402
from sandbox.serve import free_port, serve_in_thread  # noqa: E402
from sandbox.zendesk import ZendeskSimulator, create_zendesk_app  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/triage_read_profile"


def read_requests(account: load.Account) -> dict[str, Callable[[int], tuple[str, dict[str, Any]]]]:
    """The load bench's reads: (path, query) for the i-th request of each route."""
    return {
        "ticket_list": lambda i: ("/tickets/", {"page_size": 25}),
        "ticket_detail": lambda i: (
            f"/tickets/{account.processed[i % len(account.processed)]}",
            {},
        ),
        "summary": lambda i: ("/tickets/stats/summary", {}),
        "dashboard": lambda i: ("/analytics/dashboard", {}),
    }


# Not a read of the mix: the floor (uvicorn, the middleware, routing, one worker-thread hop).
FLOOR = {"floor_health": lambda i: ("/health", {})}


def set_up(base_url: str, zendesk_url: str, sim: ZendeskSimulator) -> load.Account:
    account = load.Account(email=f"profile-{time.time_ns()}@example.com", address="127.0.0.1")
    open_ids = [t for t in sorted(sim.tickets) if sim.ticket(t)["status"] != "closed"]
    asyncio.run(load.set_up_account(base_url, zendesk_url, sim, account, open_ids[:8]))
    token = httpx.post(
        f"{base_url}/auth/login", data={"username": account.email, "password": load.PASSWORD}
    )
    token.raise_for_status()
    account.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return account


def measure_served(args: argparse.Namespace) -> None:
    sim = ZendeskSimulator()
    port = args.port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="triage-read-profile-") as data_dir:
        env = harness.api_alone_environment(args.database_url, data_dir)
        api = subprocess.Popen(
            harness.uvicorn_command(port, "--workers", "1", "--no-access-log"),
            cwd=BACKEND_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            with serve_in_thread(create_zendesk_app(sim)) as zendesk_url:
                load.wait_ready(base_url, api)
                account = set_up(base_url, zendesk_url, sim)
                per_route = time_routes(base_url, account, api.pid, args.requests)
        finally:
            harness.stop_group(api)
    for name, ms in per_route.items():
        print(f"cpu_ms_{name}={ms:.2f}")
    weights = {name: load.MIX[name] for name in per_route if name in load.MIX}
    mix = sum(per_route[name] * weight for name, weight in weights.items()) / sum(weights.values())
    print(f"cpu_ms_per_read_mix={mix:.2f}")
    print("target_cpu_ms_per_read=2")


def time_routes(base_url: str, account: load.Account, pid: int, requests: int) -> dict[str, float]:
    per_route: dict[str, float] = {}
    with httpx.Client(base_url=base_url, headers=account.headers, timeout=30) as client:
        for name, build in {**read_requests(account), **FLOOR}.items():
            for index in range(20):  # warm-up: caches, the pool, the token cache
                path, params = build(index)
                client.get(path, params=params).raise_for_status()
            before = load.process_tree_cpu_s(pid)
            for index in range(requests):
                path, params = build(index)
                client.get(path, params=params).raise_for_status()
            per_route[name] = (load.process_tree_cpu_s(pid) - before) * 1000 / requests
    return per_route


async def asgi_get(app: Any, path: str, query: dict[str, Any], headers: dict[str, str]) -> int:
    """One GET straight through the ASGI app (no sockets); its status."""
    status = 0
    query_string = str(httpx.QueryParams(query)).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query_string,
        "headers": [(b"host", b"127.0.0.1")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def profile_in_process(args: argparse.Namespace) -> None:
    import anyio.to_thread

    sim = ZendeskSimulator()
    data_dir = tempfile.mkdtemp(prefix="triage-read-profile-")
    os.environ.update(harness.api_alone_environment(args.database_url, data_dir))
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from app.config import get_settings
    from app.main import create_app

    get_settings.cache_clear()
    app = create_app()
    with (
        serve_in_thread(create_zendesk_app(sim)) as zendesk_url,
        serve_in_thread(app) as base_url,
    ):
        account = set_up(base_url, zendesk_url, sim)

    async def inline(func: Callable[..., Any], *fargs: Any, **_: Any) -> Any:
        return func(*fargs)

    anyio.to_thread.run_sync = inline  # type: ignore[assignment]

    async def run() -> None:
        for name, build in {**read_requests(account), **FLOOR}.items():
            for index in range(20):
                path, params = build(index)
                await asgi_get(app, path, params, account.headers)
            profiler = cProfile.Profile(time.process_time)  # CPU, not waits
            started = time.process_time()
            profiler.enable()
            for index in range(args.requests):
                path, params = build(index)
                status = await asgi_get(app, path, params, account.headers)
                if status != 200:
                    raise SystemExit(f"{name}: status {status}")
            profiler.disable()
            spent_ms = (time.process_time() - started) * 1000 / args.requests
            print(f"# {name}: {spent_ms:.2f} ms CPU per request under the profiler")
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order)
                stats.print_stats(args.top)
                print(f"## by {order}")
                print(out.getvalue().split("\n", 6)[-1].rstrip())

    asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per route")
    parser.add_argument("--profile", action="store_true", help="cProfile in this process")
    parser.add_argument("--top", type=int, default=30, help="functions listed per route")
    parser.add_argument("--port", type=int, default=0, help="the API's port (0: a free one)")
    args = parser.parse_args(argv)
    if args.database_url.startswith("postgresql"):
        load.recreate_database(args.database_url)
    else:
        harness.migrate(args.database_url)
    if args.profile:
        profile_in_process(args)
    else:
        measure_served(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
