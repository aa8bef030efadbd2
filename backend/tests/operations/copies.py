"""Run the service as an operator does (`start.sh`, or compose's commands as processes) and
drive it over HTTP, as a user does."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from app.config import BACKEND_DIR

T = TypeVar("T")

REPO_ROOT = BACKEND_DIR.parent
# Variables the test process sets for itself that a fresh copy must not inherit.
TEST_ONLY_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "ENCRYPTION_KEYS",
    "ENV",
    "SANDBOX_ENABLED",
    "DATA_DIR",
    "PROMETHEUS_MULTIPROC_DIR",
    "HOST",
    "PORT",
    "PUBLIC_BASE_URL",
    "BCRYPT_ROUNDS",
    "ZENDESK_BACKOFF_BASE_S",
    "ZENDESK_MAX_RETRIES",
    "ZENDESK_REQUESTS_PER_MINUTE",
)
# Open tickets of the built-in sandbox's seed (closed ones refuse updates).
SANDBOX_OPEN_TICKETS = [1, 2, 4, 6, 8, 9, 11, 12]
PASSWORD = "correct-horse-battery"


def clean_environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES}
    env.update(BCRYPT_ROUNDS="4", **overrides)
    return env


def wait_until(predicate: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout_s} s")


@dataclass
class Copy:
    """A running copy of the service: its URL, processes and log."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def ready(self, timeout_s: float = 180) -> None:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the copy exited:\n{self.log_tail()}")
            return self.http.get("/health").status_code == 200

        wait_until(answers, timeout_s, f"{self.url} ready\n{self.log_tail()}")

    def login(self, email: str) -> dict[str, str]:
        def register() -> httpx.Response | None:
            response = self.http.post("/auth/register", json={"email": email, "password": PASSWORD})
            # 503 "try again shortly": SQLite busy while the new worker starts writing.
            return None if response.status_code == 503 else response

        registered = wait_until(register, 15, f"registering {email}")
        assert registered.status_code in (201, 409), registered.text
        token = self.http.post(
            "/auth/login", data={"username": email, "password": PASSWORD}
        ).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def submit_batch(self, headers: dict[str, str], ticket_ids: list[int]) -> str:
        def submit() -> httpx.Response | None:
            response = self.http.post(
                "/tickets/process-batch", json={"ticket_ids": ticket_ids}, headers=headers
            )
            return None if response.status_code == 503 else response  # "try again shortly"

        response = wait_until(submit, 15, f"submitting a batch to {self.url}")
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def wait_for_job(self, headers: dict[str, str], job_id: str, timeout_s: float) -> dict:
        def done() -> dict | None:
            body = self.http.get(f"/tickets/jobs/{job_id}", headers=headers).json()
            return body if body.get("finished_at") else None

        return dict(wait_until(done, timeout_s, f"job {job_id} on {self.url}\n{self.log_tail()}"))

    def stop(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@contextmanager
def started(command: list[str], url: str, log: Path, env: dict[str, str]) -> Iterator[Copy]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    copy = Copy(url=url, process=process, log=log)
    try:
        yield copy
    finally:
        copy.stop()


def start_sh(
    port: int, data_dir: Path | None, log: Path, **overrides: str
) -> AbstractContextManager[Copy]:
    """`start.sh` on `port`; `data_dir` None: the default it derives from the port."""
    env = clean_environment(PORT=str(port), WORKER_LOG_LEVEL="info", **overrides)
    if data_dir is not None:
        env["DATA_DIR"] = str(data_dir)
    return started([str(REPO_ROOT / "start.sh")], f"http://127.0.0.1:{port}", log, env)


def processes_with(marker: str) -> list[int]:
    """Pids whose command line contains `marker` (to signal processes a test started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in command_line:
            pids.append(int(entry.name))
    return pids
