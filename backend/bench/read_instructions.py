"""Instructions the API executes per read of the load bench's mix: a figure that holds still.

    cd backend && python bench/read_instructions.py [--requests 500] [--database-url URL]

CPU milliseconds move by 10 to 20 % from one minute to the next on a shared machine, more
than most changes to a read path. This bench counts instructions instead (valgrind's
callgrind, which counts the same for the same work whatever else runs). It gives one user
8 processed tickets as `read_profile.py` does, then runs the app in a process of its own
under callgrind twice: once with no timed requests and once with `--requests` reads in the
proportions of the load bench's mix (list, detail, summary, dashboard), each straight
through the ASGI app (no sockets, no uvicorn, the hops to a worker thread inline, a fixed
hash seed), both after the same warm-up. The difference divided by the count is
`instructions_per_read_mix=`; runs of the same code agree within about 1 %. Compare
versions with it; the milliseconds of `read_profile.py` and `load.py` are the targets' own
figures. It counts user-space instructions only: a round trip saved (system calls) shows
in those milliseconds, not here.

Needs `valgrind` on the PATH and PostgreSQL (a scratch database, recreated). Takes about
four minutes: Python under callgrind runs some fifty times slower.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from bench import harness, load, read_profile  # noqa: E402
from sandbox.serve import serve_in_thread  # noqa: E402
from sandbox.zendesk import ZendeskSimulator, create_zendesk_app  # noqa: E402

WARM_UP_PER_ROUTE = 30


def set_up(database_url: str, data_dir: str) -> dict[str, object]:
    """A user with processed tickets, made through the API served in this process."""
    os.environ.update(harness.api_alone_environment(database_url, data_dir, metrics=False))
    from app.main import create_app

    sim = ZendeskSimulator()
    with (
        serve_in_thread(create_zendesk_app(sim)) as zendesk_url,
        serve_in_thread(create_app()) as base_url,
    ):
        account = read_profile.set_up(base_url, zendesk_url, sim)
    return {"headers": account.headers, "processed": account.processed}


def run_mix(database_url: str, data_dir: str, account_file: str, requests: int) -> None:
    """The child: warm up every route, then send `requests` reads of the mix in process."""
    os.environ.update(harness.api_alone_environment(database_url, data_dir, metrics=False))
    # Slowed some fifty times, the run would see its token leave the 5 s token cache every
    # few hundred reads; served, a busy user's token stays in it.
    os.environ["AUTH_CACHE_SECONDS"] = "60"
    # The hops to a worker thread run inline: with threads the count moved by 3 % between
    # runs of the same code (which thread waits, and how often, is timing).
    import anyio.to_thread

    async def inline(func: Any, *args: Any, **_: Any) -> Any:
        return func(*args)

    anyio.to_thread.run_sync = inline  # type: ignore[assignment]
    from app.main import create_app

    saved = json.loads(Path(account_file).read_text())
    account = load.Account(email="", address="127.0.0.1")
    account.processed, headers = saved["processed"], saved["headers"]
    routes = read_profile.read_requests(account)
    order = [name for name, weight in load.MIX.items() if name in routes for _ in range(weight)]
    app = create_app()

    async def reads() -> None:
        async with app.router.lifespan_context(app):
            for build in routes.values():
                for index in range(WARM_UP_PER_ROUTE):
                    path, query = build(index)
                    await read_profile.asgi_get(app, path, query, headers)
            for index in range(requests):
                path, query = routes[order[index % len(order)]](index)
                if await read_profile.asgi_get(app, path, query, headers) != 200:
                    raise SystemExit(f"{path}: not 200")

    asyncio.run(reads())


def instructions(command: list[str], out_file: Path) -> int:
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *command],
        cwd=BACKEND_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    found = re.search(r"^summary:\s+(\d+)", out_file.read_text(), re.MULTILINE)
    if found is None:
        raise SystemExit(f"no instruction count in {out_file}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=read_profile.DEFAULT_DATABASE_URL)
    parser.add_argument("--requests", type=int, default=500, help="reads counted")
    parser.add_argument(
        "--child", nargs=3, metavar=("DATA_DIR", "ACCOUNT", "N"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        data_dir, account_file, count = args.child
        run_mix(args.database_url, data_dir, account_file, int(count))
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    load.recreate_database(args.database_url)
    with tempfile.TemporaryDirectory(prefix="triage-read-instructions-") as scratch:
        data_dir = os.path.join(scratch, "data")
        os.mkdir(data_dir)
        account_file = Path(scratch, "account.json")
        account_file.write_text(json.dumps(set_up(args.database_url, data_dir)))
        counts = {}
        os.environ["PYTHONHASHSEED"] = "0"  # the same dict layouts in both runs
        for count in (0, args.requests):
            child = [sys.executable, __file__, "--database-url", args.database_url,
                     "--child", data_dir, str(account_file), str(count)]  # fmt: skip
            counts[count] = instructions(child, Path(scratch, f"callgrind.{count}"))
    per_read = (counts[args.requests] - counts[0]) / args.requests
    print(f"reads_counted={args.requests}")
    print(f"instructions_per_read_mix={per_read:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
