"""A fair share of the workers per user: one user's many batch jobs never take every worker,
and another user's job does not wait behind all of them."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from app.batch import jobs as batch_jobs
from app.batch import runner
from app.database import session_scope
from app.enums import JobState
from app.models import BatchJob, User, utcnow
from app.unit_of_work import PROCESS_BATCH, QueuedJob
from app.worker import resume_stalled_jobs
from sandbox.zendesk import ZendeskSimulator
from tests.factories import open_ticket_ids
from tests.worker.conftest import (
    WorkerFactory,
    count,
    login,
    sender_to,
    user_on_zendesk,
    wait_for,
)
from tests.worker.test_batch_jobs import finished, job, submit

CAP = 2


@pytest.fixture
def second_user(engine: Engine, zendesk_url: str) -> Iterator[User]:
    """Another committed user on the same Zendesk account (seen by the workers)."""
    with user_on_zendesk(zendesk_url, prefix="other") as user:
        yield user


def share_taken(user: User, more: int) -> list[str]:
    """CAP + `more` new jobs of `user`; the first CAP claimed (on nodes 0, 1...)."""
    with session_scope() as db:
        job_ids = [
            batch_jobs.create_job(db=db, user_id=user.id, zendesk_ticket_ids=[1]).id
            for _ in range(CAP + more)
        ]
    for n, job_id in enumerate(job_ids[:CAP]):
        assert runner.claim(job_id, f"node/{n}") is not None
    return job_ids


def test_a_job_over_the_cap_is_not_claimed_and_a_dead_workers_job_does_not_count(
    committed_user: User,
) -> None:
    job_ids = share_taken(committed_user, more=1)
    with pytest.raises(batch_jobs.UserAtCapacity):
        runner.claim(job_ids[CAP], "node/other")
    with session_scope() as db:
        over = db.get(BatchJob, job_ids[CAP])
        assert over is not None
        assert (over.state, over.lease_owner, over.attempts) == ("queued", None, 0)
        assert over.dispatched_at is None  # waiting for a share, its task done with
        first = db.get(BatchJob, job_ids[0])
        assert first is not None
        first.lease_expires_at = utcnow() - timedelta(seconds=1)
    assert runner.claim(job_ids[CAP], "node/other") is not None  # its worker died: one free


def queued_job_ids(redis_url: str) -> list[str]:
    """The job ids of the process_batch tasks waiting in the broker's queues."""
    client = redis.Redis.from_url(redis_url)
    found = []
    for key in client.scan_iter():
        if client.type(key) == b"list":
            for raw in client.lrange(key, 0, -1):
                message = json.loads(raw)
                if message["headers"]["task"] == PROCESS_BATCH:
                    found.append(json.loads(base64.b64decode(message["body"]))[0][0])
    return found


def test_a_finished_job_hands_its_share_to_the_owners_oldest_waiting_job(
    committed_user: User, redis_broker: str
) -> None:
    job_ids = share_taken(committed_user, more=2)
    for job_id in job_ids[CAP:]:
        with pytest.raises(batch_jobs.UserAtCapacity):
            runner.claim(job_id, "node/other")

    def queued() -> list[str]:
        return [job_id for job_id in queued_job_ids(redis_broker) if job_id in job_ids]

    assert queued() == []  # waiting in the database, not in the queue

    runner.fail_job(job_ids[0], "stopped by the test")  # finished: its share is free

    oldest, newer = job_ids[CAP], job_ids[CAP + 1]
    assert queued() == [oldest]
    with session_scope() as db:
        handed, waiting = db.get(BatchJob, oldest), db.get(BatchJob, newer)
        assert handed is not None and waiting is not None
        assert handed.dispatched_at is not None and waiting.dispatched_at is None
    assert runner.claim(oldest, "node/other") is not None
    with pytest.raises(batch_jobs.UserAtCapacity):  # the cap holds: one share, one job
        runner.claim(newer, "node/other")


def most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    """The largest number of [start, end] intervals that overlap at one moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    at_once = peak = 0
    for _, step in edges:  # at a tie an end (-1) sorts before a start (+1)
        at_once += step
        peak = max(peak, at_once)
    return peak


@pytest.mark.postgres_only  # real workers on the system tests' PostgreSQL
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
        start_worker(name, BATCH_JOBS_PER_USER=str(CAP))
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


@pytest.mark.postgres_only  # real workers on the system tests' PostgreSQL
def test_a_job_waiting_for_a_share_freed_by_a_dead_worker_is_sent_by_the_stalled_job_sweep(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
    redis_broker: str,
) -> None:
    """The user's one share is held by a job whose worker is gone: nothing finishes it to
    hand the share on, its lease runs out, and the sweep that beat runs every minute sends
    the waiting job, which then runs (its first and only claim that took the lease)."""
    with session_scope() as db:  # the share, held by a job on a node that is gone
        blocker = batch_jobs.create_job(db=db, user_id=committed_user.id, zendesk_ticket_ids=[1])
        blocker.state = JobState.running
        blocker.lease_owner = "elsewhere/1"
        blocker.lease_expires_at = utcnow() + timedelta(minutes=5)
        blocker_id = blocker.id
    start_worker(BATCH_JOBS_PER_USER="1")
    headers = login(live_client, committed_user)

    job_id = submit(live_client, headers, open_ticket_ids(zendesk_sim, 2))

    def waiting() -> bool:
        with session_scope() as db:
            waiter = db.get(BatchJob, job_id)
            return waiter is not None and waiter.dispatched_at is None

    wait_for(waiting)
    with session_scope() as db:  # the dead worker's lease runs out (now, not at a set time
        # a slow start of the worker could pass before its first claim)
        share_frees_at = utcnow()
        expire = update(BatchJob).where(BatchJob.id == blocker_id)
        db.execute(expire.values(lease_expires_at=share_frees_at))
    time.sleep(0.1)
    assert job(live_client, headers, job_id)["state"] == "queued"
    sender_to(redis_broker)(QueuedJob(task=resume_stalled_jobs.name, args=()))  # as beat does
    body = wait_for(
        lambda: (body := job(live_client, headers, job_id))["finished_at"] and body,
        timeout_s=30,
    )

    assert body["state"] == "succeeded"
    with session_scope() as db:
        waited = db.get(BatchJob, job_id)
        assert waited is not None and waited.started_at is not None
        assert waited.started_at >= share_frees_at and waited.attempts == 1
