"""Fixtures for batch jobs: committed data (workers use their own connections), and real
Celery workers on the local Redis, started as separate processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import kombu.pools
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, text

from app.accounts import integrations
from app.accounts.users import create_user
from app.config import BACKEND_DIR
from app.database import session_scope
from app.main import create_app
from app.models import User
from app.unit_of_work import QueuedJob, Sender
from app.worker import celery_app
from sandbox.zendesk import DEFAULT_API_TOKEN, DEFAULT_EMAIL
from tests.factories import DEFAULT_PASSWORD
from tests.targets import TEST_REDIS_URL, wipe_redis

REDIS_TEST_URL = TEST_REDIS_URL


@contextmanager
def user_on_zendesk(zendesk_url: str, prefix: str = "batch") -> Iterator[User]:
    """A user whose rows are committed (seen by workers) with the simulator's Zendesk
    account, removed again afterwards."""
    with session_scope() as db:
        user = create_user(
            db=db, email=f"{prefix}-{time.monotonic_ns()}@example.com", password=DEFAULT_PASSWORD
        )
        integrations.update(
            db=db,
            user_id=user.id,
            changes={
                "zendesk_url": zendesk_url,
                "zendesk_email": DEFAULT_EMAIL,
                "zendesk_api_token": DEFAULT_API_TOKEN,
            },
        )
    yield user
    with session_scope() as db:
        db.execute(delete(User).where(User.id == user.id))


@pytest.fixture
def committed_user(engine: Engine, zendesk_url: str) -> Iterator[User]:
    """A user whose rows are committed (seen by workers), removed again after the test."""
    with user_on_zendesk(zendesk_url) as user:
        yield user


@pytest.fixture
def live_client(engine: Engine) -> Iterator[TestClient]:
    """The app on real sessions that commit, as in production."""
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def login(client: TestClient, user: User) -> dict[str, str]:
    response = client.post(
        "/auth/login", data={"username": user.email, "password": DEFAULT_PASSWORD}
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def point_celery_at(url: str) -> None:
    """Make this process's Celery app publish to `url`, dropping pools built for another
    broker (an earlier test may have published to the default SQLite broker)."""
    celery_app.pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    # kombu keeps producer pools in a process-wide registry keyed by broker URL: pointing
    # at a URL used before would hand back its producer pool, closed just above.
    kombu.pools.reset()
    celery_app.conf.update(broker_url=url, result_backend=url)


@pytest.fixture(scope="session")
def redis_broker() -> Iterator[str]:
    """Point this process's Celery app at the test Redis database (a failure if down)."""
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.exit(f"Redis at {REDIS_TEST_URL} is unreachable: {exc}", returncode=3)
    wipe_redis(client)
    point_celery_at(REDIS_TEST_URL)
    yield REDIS_TEST_URL
    wipe_redis(client)


def sender_to(broker_url: str) -> Sender:
    """Send jobs to `broker_url` with a connection of our own: another test may have closed
    the shared Celery app's producer pool, and the faults' workers listen elsewhere."""

    def send(job: QueuedJob) -> None:
        with celery_app.connection_for_write(broker_url) as connection:
            celery_app.send_task(job.task, args=list(job.args), connection=connection)

    return send


WorkerFactory = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_worker(redis_broker: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start real `celery worker` processes; every one is stopped after the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str = "w1", **env_overrides: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env.update(
            {
                "REDIS_URL": redis_broker,
                "CELERY_VISIBILITY_TIMEOUT_S": "5",
                "BATCH_LEASE_S": "3",
            }
        )
        env.update(env_overrides)
        log = open(tmp_path / f"worker-{name}-{len(processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "app.worker",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "info",
                "--hostname",
                f"{name}@test",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BACKEND_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(process)
        deadline = time.monotonic() + 30
        while b"ready." not in Path(log.name).read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(Path(log.name).read_text(errors="replace")[-3000:])
            time.sleep(0.1)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def wait_for(predicate: Callable[[], object], timeout_s: float = 30, every_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


def count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one())
