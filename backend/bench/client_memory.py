"""Memory of the API after one user saves and uses many distinct Zendesk credentials.

    cd backend && python bench/client_memory.py [--credentials 1000] [--port 0]

Starts the Zendesk simulator in this process and the API (`uvicorn`, one process, SQLite in
a temporary data directory) as a subprocess. One user signs in, then for each credential
saves a new Zendesk API token (`PUT /settings`) and uses it (`POST /tickets/process`, which
takes the pooled client of that account from the bounded cache, or builds it). Zendesk
refuses every such token (the call answers 4xx, nothing is stored); the client is still
built and cached, which is what the bound is about. (The connection test builds a
short-lived client of its own, so it would not exercise the cache.)

Prints name=value lines: the API's resident memory before and after, and how the
connection tests answered. Target: memory stays flat (the client cache is an LRU bounded
by UPSTREAM_CLIENT_CACHE_SIZE, default 64; evicted clients are closed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

import httpx  # noqa: E402

from bench import harness  # noqa: E402
from sandbox.serve import free_port, serve_in_thread  # noqa: E402
from sandbox.zendesk import ZendeskSimulator, create_zendesk_app  # noqa: E402

EMAIL = "memory@example.com"
PASSWORD = "memory-bench-password-123"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def start_api(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    database_url = f"sqlite:///{data_dir}/triage.db"
    env = harness.api_alone_environment(database_url, data_dir, metrics=False)
    # The schema as start.sh builds it: the alembic command on a new SQLite file.
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=BACKEND_DIR, env=env, check=True
    )
    return subprocess.Popen(
        harness.uvicorn_command(port, "--no-access-log"),
        cwd=BACKEND_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(data_dir) / "uvicorn.log", "wb"),
        start_new_session=True,
    )


def wait_ready(client: httpx.Client, api: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise RuntimeError("uvicorn exited during start-up")
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the API did not become ready")


def run(
    args: argparse.Namespace,
    client: httpx.Client,
    zendesk_url: str,
    zendesk_ticket_id: int,
    api_pid: int,
) -> int:
    client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD}).raise_for_status()
    login = client.post("/auth/login", data={"username": EMAIL, "password": PASSWORD})
    login.raise_for_status()
    client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"

    samples: dict[int, str] = {}

    def save_and_use(token: str) -> int:
        client.put(
            "/settings",
            json={
                "zendesk_url": zendesk_url,
                "zendesk_email": "agent@example.com",
                "zendesk_api_token": token,
            },
        ).raise_for_status()
        processed = client.post("/tickets/process", json={"ticket_id": zendesk_ticket_id})
        if processed.status_code not in samples:
            samples[processed.status_code] = processed.text[:200]
        return processed.status_code

    save_and_use("warm-up-token")  # imports and first-use allocations before the baseline
    before = rss_mb(api_pid)
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    for number in range(args.credentials):
        statuses[save_and_use(f"distinct-token-{number:05d}")] += 1
        if (number + 1) % 250 == 0 and number + 1 < args.credentials:
            print(f"api_rss_mb_after_{number + 1}_credentials={rss_mb(api_pid):.1f}", flush=True)
    after = rss_mb(api_pid)
    print(f"credentials={args.credentials}")
    print(f"duration_s={time.monotonic() - started:.1f}")
    print(f"api_rss_mb_before={before:.1f}")
    print(f"api_rss_mb_after_{args.credentials}_credentials={after:.1f}")
    print(f"api_rss_mb_growth={after - before:.1f}")
    for status, count in sorted(statuses.items()):
        print(f"process_responses_{status}={count}")
    for status, body in sorted(samples.items()):
        print(f"process_response_sample_{status}={body}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--credentials", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0, help="the API's port (0: a free one)")
    args = parser.parse_args()
    port = args.port or free_port()
    sim = ZendeskSimulator()
    with tempfile.TemporaryDirectory(prefix="triage-memory-") as data_dir:
        api = start_api(port, data_dir)
        try:
            with (
                serve_in_thread(create_zendesk_app(sim)) as zendesk_url,
                httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
            ):
                wait_ready(client, api)
                return run(args, client, zendesk_url, min(sim.tickets), api.pid)
        finally:
            harness.stop_group(api)


if __name__ == "__main__":
    sys.exit(main())
