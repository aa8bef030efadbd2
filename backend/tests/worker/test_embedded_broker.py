"""The embedded default: a real worker on kombu's SQLite broker, no Redis at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.batch import jobs as batch_jobs
from app.config import BACKEND_DIR, get_settings
from app.database import session_scope
from app.models import User
from app.worker import create_celery
from sandbox.zendesk import ZendeskSimulator
from tests.worker.conftest import count, wait_for

pytestmark = pytest.mark.postgres_only


def test_sqlite_broker_worker_processes_a_batch(
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path)
    monkeypatch.setattr(get_settings(), "redis_url", None)
    producer = create_celery()
    assert producer.conf.broker_url.startswith("sqla+sqlite:///")
    with session_scope() as db:
        job_id = batch_jobs.create_job(
            db=db, user_id=committed_user.id, zendesk_ticket_ids=[1, 2, 3]
        ).id
    producer.send_task("triage.process_batch", args=[job_id])

    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env["DATA_DIR"] = str(tmp_path)
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
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
                "embedded@test",
            ],
            cwd=BACKEND_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(
                lambda: count(
                    engine,
                    "SELECT count(*) FROM batch_jobs WHERE id = :j AND state = 'succeeded'",
                    j=job_id,
                ),
                timeout_s=45,
            )
        finally:
            worker.terminate()
            worker.wait(timeout=20)
    assert (
        count(engine, "SELECT count(*) FROM tickets WHERE user_id = :u", u=committed_user.id) == 3
    )
