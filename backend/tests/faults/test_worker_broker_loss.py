"""Redis going away while a worker runs a task (a TCP proxy between the worker and Redis,
cut mid-task): the worker stays up, reconnects when Redis is back, and the job finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.batch import jobs as batch_jobs
from app.config import BACKEND_DIR
from app.database import session_scope
from app.models import User
from sandbox.zendesk import ZendeskSimulator
from tests.factories import open_ticket_ids
from tests.tcp_proxy import TcpProxy
from tests.worker.conftest import count, login, sender_to, wait_for

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def proxied_broker(redis_broker: str) -> Iterator[tuple[str, TcpProxy]]:
    """The faults' Redis database reached through a proxy the test can cut."""
    target = redis.Redis.from_url(redis_broker).connection_pool.connection_kwargs
    with TcpProxy(target.get("host", "127.0.0.1"), target.get("port", 6379)) as proxy:
        yield f"redis://127.0.0.1:{proxy.port}/{target.get('db', 0)}", proxy


@pytest.fixture
def worker_on(tmp_path: Path) -> Iterator[Callable[[str, str], subprocess.Popen[bytes]]]:
    """Start `celery worker` with a given pool on a given broker; stopped after the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(broker_url: str, pool: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "REDIS_URL": broker_url, "BATCH_LEASE_S": "3"}
        log_path = tmp_path / f"worker-{pool}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "app.worker", "worker", "--pool", pool,
                 "--concurrency", "2", "--loglevel", "info", "--hostname", f"{pool}@test"],
                cwd=BACKEND_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        processes.append(process)
        wait_for(lambda: b"ready." in log_path.read_bytes() or process.poll() is not None)
        assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def submit(user: User, broker_url: str, ids: list[int]) -> str:
    with session_scope(sender_to(broker_url)) as db:
        return str(batch_jobs.submit(db=db, user_id=user.id, zendesk_ticket_ids=ids).id)


def finished(client: TestClient, headers: dict[str, str], job_id: str) -> dict:
    def body() -> dict | None:
        job = client.get(f"/tickets/jobs/{job_id}", headers=headers).json()
        return job if job["finished_at"] else None

    return dict(wait_for(body, timeout_s=60, every_s=0.1))


# prefork (start.sh's and compose's pool): the consumer waits on BRPOP while the task runs.
@pytest.mark.parametrize("outage_s", [0.3, 4.0])
@pytest.mark.parametrize("pool", ["prefork"])
def test_worker_survives_redis_dropping_while_a_task_runs(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    worker_on: Callable[[str, str], subprocess.Popen[bytes]],
    proxied_broker: tuple[str, TcpProxy],
    engine: Engine,
    pool: str,
    outage_s: float,
) -> None:
    broker_url, proxy = proxied_broker
    headers = login(live_client, committed_user)
    zendesk_sim.job_delay_s = 3.0  # the bulk update keeps the task busy for a while
    worker = worker_on(broker_url, pool)
    ids = open_ticket_ids(zendesk_sim, 10)
    jobs_before = len(zendesk_sim.jobs)
    job_id = submit(committed_user, broker_url, ids)
    wait_for(lambda: len(zendesk_sim.jobs) > jobs_before)  # the task is in flight
    proxy.cut()
    time.sleep(outage_s)  # 4 s: the task finishes (and acknowledges) while Redis is away
    assert worker.poll() is None, "the worker died while Redis was down"
    proxy.resume()

    body = finished(live_client, headers, job_id)
    assert body["state"] == "succeeded", body
    assert worker.poll() is None, "the worker died after Redis came back"
    user = committed_user.id
    assert count(engine, "SELECT count(*) FROM ticket_analyses WHERE user_id = :u", u=user) == 10

    # Still consuming after the reconnect: a second job on the same worker.
    zendesk_sim.job_delay_s = 0.05
    second = submit(committed_user, broker_url, open_ticket_ids(zendesk_sim, 3))
    assert finished(live_client, headers, second)["state"] == "succeeded"
    assert worker.poll() is None
