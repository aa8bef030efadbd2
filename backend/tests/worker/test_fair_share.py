"""A fair share of the workers per user: one user's many batch jobs never take every worker,
and another user's job does not wait behind all of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.batch import jobs as batch_jobs
from app.batch import runner
from app.database import session_scope
from app.enums import JobState
from app.models import BatchJob, User, utcnow
from sandbox.zendesk import ZendeskSimulator
from tests.factories import open_ticket_ids
from tests.worker.conftest import WorkerFactory, count, login, user_on_zendesk, wait_for
from tests.worker.test_batch_jobs import finished, job, submit

pytestmark = pytest.mark.postgres_only

CAP = 2


@pytest.fixture
def second_user(engine: Engine, zendesk_url: str) -> Iterator[User]:
    """Another committed user on the same Zendesk account (seen by the workers)."""
    with user_on_zendesk(zendesk_url, prefix="other") as user:
        yield user


def test_a_job_over_the_cap_is_not_claimed_and_a_dead_workers_job_does_not_count(
    committed_user: User,
) -> None:
    with session_scope() as db:
        job_ids = [
            batch_jobs.create_job(db=db, user_id=committed_user.id, zendesk_ticket_ids=[1]).id
            for _ in range(CAP + 1)
        ]
    for n, job_id in enumerate(job_ids[:CAP]):
        assert runner.claim(job_id, f"node/{n}") is not None
    with pytest.raises(batch_jobs.UserAtCapacity):
        runner.claim(job_ids[CAP], "node/other")
    with session_scope() as db:
        over = db.get(BatchJob, job_ids[CAP])
        assert over is not None
        assert (over.state, over.lease_owner, over.attempts) == ("queued", None, 0)
        first = db.get(BatchJob, job_ids[0])
        assert first is not None
        first.lease_expires_at = utcnow() - timedelta(seconds=1)
    assert runner.claim(job_ids[CAP], "node/other") is not None  # its worker died: one free


def most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    """The largest number of [start, end] intervals that overlap at one moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    at_once = peak = 0
    for _, step in edges:  # at a tie an end (-1) sorts before a start (+1)
        at_once += step
        peak = max(peak, at_once)
    return peak


def test_one_users_many_jobs_leave_a_worker_for_another_user(
    live_client: TestClient,
    committed_user: User,
    second_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
    engine: Engine,
) -> None:
    zendesk_sim.latency_s = 0.3  # every Zendesk call is slow, so jobs overlap
    for name in ("w1", "w2", "w3"):
        start_worker(name, BATCH_JOBS_PER_USER=str(CAP), BATCH_USER_BUSY_RETRY_S="0.5")
    a_headers, b_headers = login(live_client, committed_user), login(live_client, second_user)
    ids = open_ticket_ids(zendesk_sim, 21)

    peak_running = 0
    stop = threading.Event()

    def sample() -> None:  # A's jobs running with a live lease, as the workers see them
        nonlocal peak_running
        while not stop.is_set():
            running = count(
                engine,
                "SELECT count(*) FROM batch_jobs WHERE user_id = :user_id AND state = 'running'"
                " AND lease_expires_at > now()",
                user_id=committed_user.id,
            )
            peak_running = max(peak_running, running)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        a_jobs = [submit(live_client, a_headers, ids[i : i + 3]) for i in range(0, 18, 3)]
        wait_for(
            lambda: count(
                engine,
                "SELECT count(*) FROM batch_jobs WHERE user_id = :user_id AND state = 'running'",
                user_id=committed_user.id,
            )
        )
        b_job = submit(live_client, b_headers, ids[18:])
        b_done = finished(live_client, b_headers, b_job)
        a_done = [finished(live_client, a_headers, job_id) for job_id in a_jobs]
    finally:
        stop.set()
        sampler.join()

    assert b_done["state"] == "succeeded"
    assert all(body["state"] == "succeeded" for body in a_done)
    assert b_done["finished_at"] < max(body["finished_at"] for body in a_done)
    with session_scope() as db:
        a_rows = db.scalars(select(BatchJob).where(BatchJob.id.in_(a_jobs))).all()
        intervals = [(job.started_at, job.finished_at) for job in a_rows]
        assert all(job.attempts == 1 for job in a_rows)  # a job over the cap never started
    assert most_at_once(intervals) == CAP  # the workers were busy, but never all with A
    assert 0 < peak_running <= CAP


def test_a_job_waiting_for_its_owners_share_waits_as_long_as_it_takes(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
) -> None:
    """Waiting for a free share is no failure: a job goes back to the queue many more times
    than the task's retries (6, at least a second apart) allow, and runs when its turn comes."""
    busy_for_s = 9.0
    with session_scope() as db:  # the user's one share, held by a job on another node
        blocker = batch_jobs.create_job(db=db, user_id=committed_user.id, zendesk_ticket_ids=[1])
        blocker.state = JobState.running
        blocker.lease_owner = "elsewhere/1"
        blocker.lease_expires_at = utcnow() + timedelta(seconds=busy_for_s)
        share_frees_at = blocker.lease_expires_at
    start_worker(BATCH_JOBS_PER_USER="1", BATCH_USER_BUSY_RETRY_S="0.1")
    headers = login(live_client, committed_user)

    job_id = submit(live_client, headers, open_ticket_ids(zendesk_sim, 2))
    body = wait_for(
        lambda: (body := job(live_client, headers, job_id))["finished_at"] and body,
        timeout_s=busy_for_s + 30,
    )

    assert body["state"] == "succeeded"
    with session_scope() as db:
        waited = db.get(BatchJob, job_id)
        assert waited is not None and waited.started_at is not None
        assert waited.started_at >= share_frees_at and waited.attempts == 1
