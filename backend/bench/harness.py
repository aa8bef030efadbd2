"""What the multi-process benches share: a scratch database, the simulators, an API and
Celery worker processes started as in production, and the API's public contract to drive
them (register, settings, `POST /tickets/process-batch`, job polling). Processes' CPU and
resident memory come from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BACKEND_DIR = Path(__file__).resolve().parents[1]
ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def scratch_database(admin_url: str, name: str) -> str:
    """Drop and create database `name`; its URL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def in_process_user(database_url: str | None, label: str) -> int:
    """For benches that run the product in their own process: point it at `database_url`
    (default a new SQLite file), with retrains never held back by the cooldown, migrate,
    and create a fresh user; their id. Call before importing anything that reads settings."""
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix=f"{label}-"))
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.db'}"
    os.environ["DATA_DIR"] = str(workdir)
    os.environ["RETRAIN_COOLDOWN_S"] = "0"

    from app.accounts.users import create_user
    from app.core.migrations import upgrade_head
    from app.database import session_scope

    upgrade_head()  # alembic opens its own connection (SQLite needs one without a transaction)
    with session_scope() as db:
        email = f"{label}-{time.time_ns()}@example.com"
        return create_user(db=db, email=email, password=label).id


def bench_environment(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ENV": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-secret-key-bench-secret-key-0123456789",
            "ENCRYPTION_KEYS": "bX9uqS1xLcD3mQeKcS8c4bJf0m3y8Xb2m6R0W8Q5b3Y=",
            "SANDBOX_ENABLED": "false",
            "LLM_MAX_RETRIES": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(BACKEND_DIR),
            **extra,
        }
    )
    return env


def api_alone_environment(
    database_url: str, data_dir: str, *, metrics: bool = True, log_level: str = "WARNING"
) -> dict[str, str]:
    """An API process on its own (no Redis, no sandbox, Zendesk unthrottled), as the read
    benches run it; with `metrics`, Prometheus' multiprocess folder inside `data_dir`."""
    env = {
        **os.environ,
        "ENV": "development",
        "DATABASE_URL": database_url,
        "DATA_DIR": data_dir,
        "SANDBOX_ENABLED": "false",
        "ZENDESK_REQUESTS_PER_MINUTE": "1000000",
        "LOG_LEVEL": log_level,
    }
    env.pop("REDIS_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if metrics:
        metrics_dir = Path(data_dir) / "metrics"
        metrics_dir.mkdir(exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return env


def stop_group(process: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    """SIGTERM a process started with `start_new_session`, and its children; SIGKILL late."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def migrate(database_url: str) -> None:
    from sqlalchemy import create_engine

    from app.core.migrations import upgrade_head

    engine = create_engine(database_url)
    # A connection without a transaction of ours: Alembic begins and commits its own, and a
    # migration may step out of it (VACUUM in an autocommit block).
    with engine.connect() as connection:
        upgrade_head(connection)
        connection.commit()
    engine.dispose()


@dataclass
class Processes:
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for process in [*self.workers, *([self.api] if self.api else [])]:
            process.terminate()
        for process in [*self.workers, *([self.api] if self.api else [])]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def uvicorn_command(port: int, *options: str) -> list[str]:
    """The API as the benches serve it: `app.main`'s factory on loopback, quiet logs."""
    return [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            *options]  # fmt: skip


def start_api(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    api = subprocess.Popen(
        uvicorn_command(port), cwd=BACKEND_DIR, env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise SystemExit(f"the API exited with {api.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return api
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    api.terminate()
    raise SystemExit("the API did not start within 60 s")


def start_worker(env: dict[str, str], name: str, concurrency: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "app.worker", "worker", "--loglevel", "warning",
         "--concurrency", str(concurrency), "--hostname", f"{name}@bench",
         "--without-gossip", "--without-mingle"],
        cwd=BACKEND_DIR, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip


@contextmanager
def running(
    env: dict[str, str], *, api_port: int, workers: int, worker_concurrency: int = 1
) -> Iterator[Processes]:
    processes = Processes()
    try:
        processes.api = start_api(env, api_port)
        processes.workers = [start_worker(env, f"w{n}", worker_concurrency) for n in range(workers)]
        wait_ready(env["REDIS_URL"], processes.workers, [f"w{n}@bench" for n in range(workers)])
        yield processes
    finally:
        processes.stop()


def wait_ready(
    broker_url: str, processes: Sequence[subprocess.Popen[bytes]], names: Sequence[str]
) -> None:
    """Until every worker answers a ping (a worker still importing would count its start-up
    in the first measured run)."""
    from celery import Celery

    control = Celery(broker=broker_url).control
    deadline = time.monotonic() + 180
    answered: set[str] = set()
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"a worker exited with {process.returncode}")
        for reply in control.ping(destination=list(names), timeout=1.0) or []:
            answered.update(reply)
        if answered >= set(names):
            return
    raise SystemExit(f"workers not ready after 180 s: {sorted(set(names) - answered)}")


class Api:
    """A user of the API over HTTP."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def sign_up(self, email: str = "bench@example.com", password: str = "bench-password") -> None:
        self.http.post("/auth/register", json={"email": email, "password": password})
        token = self.http.post("/auth/login", data={"username": email, "password": password})
        token.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def configure(self, **settings: Any) -> None:
        self.http.put("/settings/", json=settings).raise_for_status()

    def submit(self, ticket_ids: Sequence[int]) -> str:
        response = self.http.post("/tickets/process-batch", json={"ticket_ids": list(ticket_ids)})
        response.raise_for_status()
        return str(response.json()["id"])

    def wait(self, job_ids: Sequence[str], timeout_s: float) -> list[dict[str, Any]]:
        """Every job once finished (or as it stands at the deadline). Polls the job list (no
        items) and reads a job with its items once, when it has finished: polling every job
        with its hundred results four times a second cost the API more CPU than the workers
        spent on the tickets, on the machine the workers were measured on."""
        deadline = time.monotonic() + timeout_s
        pending, finished = list(job_ids), {}
        while pending and time.monotonic() < deadline:
            if len(pending) <= 100:
                listed = self.http.get("/tickets/jobs", params={"limit": 100}).json()["items"]
                states = {job["id"]: job for job in listed}
                done = [
                    job_id for job_id in pending if (states.get(job_id) or {}).get("finished_at")
                ]
                unlisted = [job_id for job_id in pending if job_id not in states]
            else:
                done, unlisted = [], list(pending)
            for job_id in unlisted:  # older than the list's 100 most recent
                if self.http.get(f"/tickets/jobs/{job_id}").json().get("finished_at"):
                    done.append(job_id)
            for job_id in done:
                finished[job_id] = self.http.get(f"/tickets/jobs/{job_id}").json()
                pending.remove(job_id)
            time.sleep(0.25)
        for job_id in pending:
            finished[job_id] = self.http.get(f"/tickets/jobs/{job_id}").json()
        return [finished[job_id] for job_id in job_ids]

    def run_batches(self, batches: Sequence[Sequence[int]], timeout_s: float) -> JobsOutcome:
        started = time.perf_counter()
        jobs = self.wait([self.submit(ids) for ids in batches], timeout_s)
        return JobsOutcome(jobs, time.perf_counter() - started)


@dataclass
class JobsOutcome:
    jobs: list[dict[str, Any]]
    wall_s: float

    @property
    def items(self) -> list[dict[str, Any]]:
        return [item for job in self.jobs for item in job.get("items") or []]

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item["status"] == "done")

    @property
    def failed(self) -> int:
        return sum(1 for item in self.items if item["status"] != "done")

    def sources(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items:
            source = (item.get("result") or {}).get("source") or "none"
            counts[source] = counts.get(source, 0) + 1
        return counts


def _tree(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(raw[raw.rindex(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    pids, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children.get(pid, []))
    return pids


def rss_mb(root_pid: int) -> float:
    """Resident memory of a process and its descendants (a worker's pool), in MB."""
    total_kb = 0
    for pid in _tree(root_pid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def cpu_s(root_pid: int) -> float:
    """CPU time (user + system) of a process and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in _tree(root_pid):
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total
