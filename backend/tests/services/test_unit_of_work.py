"""The unit of work: jobs enqueued by services are sent after the commit, never on rollback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from app.batch import jobs as batch_jobs
from app.database import session_scope
from app.main import create_app
from app.models import BatchJob, User
from app.unit_of_work import PROCESS_BATCH, QueuedJob, UnitOfWork
from tests.worker.conftest import login


class Recorder:
    """A sender that also checks, from another connection, that the job's row is committed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sent: list[QueuedJob] = []
        self.visible: list[bool] = []

    def __call__(self, job: QueuedJob) -> None:
        with self.engine.connect() as connection:
            found = connection.execute(
                text("SELECT count(*) FROM batch_jobs WHERE id = :id"), {"id": job.args[0]}
            ).scalar_one()
        self.visible.append(found == 1)
        self.sent.append(job)


@pytest.fixture
def recorder(engine: Engine) -> Recorder:
    return Recorder(engine)


def job_count(user: User) -> int:
    with session_scope() as db:
        return len(db.scalars(select(BatchJob).where(BatchJob.user_id == user.id)).all())


def test_rolled_back_unit_of_work_sends_nothing(committed_user: User, recorder: Recorder) -> None:
    with pytest.raises(RuntimeError), session_scope(recorder) as db:
        batch_jobs.submit(db=db, user_id=committed_user.id, zendesk_ticket_ids=[1, 2])
        raise RuntimeError("something failed after the job was enqueued")
    assert recorder.sent == [] and job_count(committed_user) == 0


def test_failed_phase_sends_nothing_and_the_next_phase_sends_its_own(
    committed_user: User, recorder: Recorder
) -> None:
    with session_scope() as db:
        uow = UnitOfWork(db, recorder)
        with pytest.raises(RuntimeError), uow.transaction():
            batch_jobs.submit(db=db, user_id=committed_user.id, zendesk_ticket_ids=[1])
            raise RuntimeError("rolled back")
        with uow.transaction():
            job = batch_jobs.submit(db=db, user_id=committed_user.id, zendesk_ticket_ids=[2])
    assert [sent.args for sent in recorder.sent] == [(job.id,)]
    assert recorder.visible == [True]


@pytest.fixture
def recorded_client(engine: Engine, recorder: Recorder) -> Iterator[TestClient]:
    app = create_app()
    app.state.job_sender = recorder
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_committed_request_sends_its_job_once_after_the_commit(
    recorded_client: TestClient, committed_user: User, recorder: Recorder
) -> None:
    response = recorded_client.post(
        "/tickets/process-batch",
        json={"ticket_ids": [1, 2, 3]},
        headers=login(recorded_client, committed_user),
    )
    assert response.status_code == 202, response.text
    assert recorder.sent == [QueuedJob(task=PROCESS_BATCH, args=(response.json()["id"],))]
    assert recorder.visible == [True]  # the worker can read the row it is handed


class DownBroker:
    """A sender whose broker refuses every connection."""

    def __call__(self, job: QueuedJob) -> None:
        raise ConnectionError("broker unreachable")


def test_a_job_whose_send_failed_is_swept_at_the_next_run_not_after_the_stall_delay(
    committed_user: User, recorder: Recorder
) -> None:
    with session_scope(DownBroker()) as db:
        lost = batch_jobs.submit(db=db, user_id=committed_user.id, zendesk_ticket_ids=[1])
    with session_scope(recorder) as db:
        sent = batch_jobs.submit(db=db, user_id=committed_user.id, zendesk_ticket_ids=[2])
    with session_scope() as db:
        assert db.get_one(BatchJob, lost.id).dispatched_at is None  # recorded as unsent
        assert db.get_one(BatchJob, sent.id).dispatched_at is not None

    with session_scope(DownBroker()) as db:  # still down: marked unsent again
        assert lost.id in batch_jobs.stalled_jobs(db=db)
    with session_scope(recorder) as db:
        swept = batch_jobs.stalled_jobs(db=db)
    assert lost.id in swept and sent.id not in swept
    assert QueuedJob(task=PROCESS_BATCH, args=(lost.id,)) in recorder.sent
    with session_scope() as db:
        assert db.get_one(BatchJob, lost.id).dispatched_at is not None
        assert lost.id not in batch_jobs.stalled_jobs(db=db)  # handed: not again at once


def test_the_sweep_runs_every_minute() -> None:
    from app.worker import celery_app

    entry = celery_app.conf.beat_schedule["triage.resume_stalled_jobs"]
    assert entry["schedule"] <= 60
