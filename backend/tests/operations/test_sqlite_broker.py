"""The embedded default's SQLite broker: a job whose worker was killed (SIGKILL) resumes on the
next worker within a minute, and acknowledged messages do not pile up in the broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from app.batch import jobs as batch_jobs
from app.config import BACKEND_DIR, get_settings
from app.database import session_scope
from app.models import User
from app.worker import create_celery
from sandbox.zendesk import ZendeskSimulator
from tests.factories import open_ticket_ids
from tests.worker.conftest import committed_user, count, wait_for

__all__ = ["committed_user"]

pytestmark = pytest.mark.postgres_only
LEASE_S = 10


@pytest.fixture
def embedded_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Workers on a SQLite broker in a data directory of their own (no Redis)."""
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path)
    monkeypatch.setattr(get_settings(), "redis_url", None)
    processes: list[subprocess.Popen[bytes]] = []
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(DATA_DIR=str(tmp_path), BATCH_LEASE_S=str(LEASE_S))

    def start(name: str) -> subprocess.Popen[bytes]:
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "app.worker", "worker",
                 "--concurrency", "2", "--loglevel", "info", "--hostname", f"{name}@test"],
                cwd=BACKEND_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        processes.append(process)
        wait_for(lambda: b"ready." in log_path.read_bytes() or process.poll() is not None, 60)
        assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def broker_rows(data_dir: Path) -> int:
    engine = create_engine(f"sqlite:///{data_dir / 'celery-broker.db'}")
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM kombu_message")).scalar_one())
    finally:
        engine.dispose()


def test_a_killed_workers_job_resumes_on_the_next_worker_within_a_minute(
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    embedded_workers: Callable[[str], subprocess.Popen[bytes]],
    engine: Engine,
    tmp_path: Path,
) -> None:
    producer = create_celery()
    doomed = embedded_workers("doomed")
    zendesk_sim.job_delay_s = 5.0  # the bulk update keeps the job in flight
    jobs_before = len(zendesk_sim.jobs)
    with session_scope() as db:
        job_id = batch_jobs.create_job(
            db=db, user_id=committed_user.id, zendesk_ticket_ids=open_ticket_ids(zendesk_sim, 10)
        ).id
    producer.send_task("triage.process_batch", args=[job_id])
    wait_for(lambda: len(zendesk_sim.jobs) > jobs_before, timeout_s=60)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    killed_at = time.monotonic()

    zendesk_sim.job_delay_s = 0.05
    embedded_workers("next")
    wait_for(
        lambda: count(
            engine,
            "SELECT count(*) FROM batch_jobs WHERE id = :j AND state = 'succeeded'",
            j=job_id,
        ),
        timeout_s=60,
    )
    assert time.monotonic() - killed_at < 60
    user = committed_user.id
    assert count(engine, "SELECT count(*) FROM ticket_analyses WHERE user_id = :u", u=user) == 10
    # Acknowledged messages are gone from the broker (kombu keeps them as invisible rows).
    wait_for(lambda: broker_rows(tmp_path) == 0, timeout_s=10)
