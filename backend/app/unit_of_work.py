"""The unit of work: who commits, and background jobs sent only after the commit.

Routers and Celery tasks own the transaction; services add and flush, never commit. The
owner commits through `commit`, which first applies the daily rollups the flushed analyses
changed (an explicit step, not a session hook).
Work that calls Zendesk or the LLM runs in phases (plan, I/O, record), each phase a short
transaction of a `UnitOfWork`, so no transaction is open while an upstream answers.

Services call `enqueue(db, task, *args)`; whoever owns the transaction (the request's
session dependency, a Celery task's `session_scope`) calls `send_after_commit` once the
commit succeeded and `discard` when it rolled back. So a worker never receives the id of a
row that was never stored, and a rolled-back request sends nothing.

A send that fails after the commit is logged; a job enqueued with `on_unsent` then records
that in a short transaction of its own (a batch job clears `dispatched_at`, so the
stalled-job sweep `triage.resume_stalled_jobs` sends it again within a minute). The job's
row is committed, so nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

logger = logging.getLogger(__name__)

PROCESS_BATCH = "triage.process_batch"
POLL_ZENDESK = "triage.poll_zendesk"

_PENDING = "pending_jobs"


@dataclass(frozen=True)
class QueuedJob:
    task: str
    args: tuple[Any, ...]
    # Records, in a new transaction of the same session, that the send failed.
    on_unsent: Callable[[Session, QueuedJob], None] | None = field(
        default=None, compare=False, repr=False
    )


Sender = Callable[[QueuedJob], None]


def enqueue(
    db: Session,
    task: str,
    *args: Any,
    on_unsent: Callable[[Session, QueuedJob], None] | None = None,
) -> None:
    """Send `task(*args)` once the session's transaction commits (never if it rolls back)."""
    db.info.setdefault(_PENDING, []).append(QueuedJob(task=task, args=args, on_unsent=on_unsent))


def pending(db: Session) -> list[QueuedJob]:
    return list(db.info.get(_PENDING, []))


def commit(db: Session) -> None:
    """The one commit of a unit of work: what its changes imply is written first (the daily
    rollups of the analyses it saved), then the transaction commits."""
    from app.analytics import rollups_write  # lazy: the models import the database module

    rollups_write.apply_pending(db)
    db.commit()


def discard(db: Session) -> None:
    db.info.pop(_PENDING, None)


def celery_sender(job: QueuedJob) -> None:
    from app.worker import celery_app

    # Outcomes live in our tables: no result-backend subscription per send.
    celery_app.send_task(job.task, args=list(job.args), retry=True, ignore_result=True)


def send_after_commit(db: Session, sender: Sender | None = None) -> list[QueuedJob]:
    """Send what the committed unit of work enqueued; returns the jobs that were sent."""
    jobs = db.info.pop(_PENDING, [])
    send = sender or celery_sender
    sent: list[QueuedJob] = []
    unsent: list[QueuedJob] = []
    for job in jobs:
        try:
            send(job)
        except Exception:  # the rows are committed: the stalled-job sweep sends them again
            logger.exception("could not send %s%s after commit", job.task, job.args)
            unsent.append(job)
            continue
        sent.append(job)
    _record_unsent(db, [job for job in unsent if job.on_unsent is not None])
    return sent


def _record_unsent(db: Session, jobs: list[QueuedJob]) -> None:
    if not jobs:
        return
    try:
        for job in jobs:
            assert job.on_unsent is not None
            job.on_unsent(db, job)
        db.commit()
    except Exception:  # the sweep's slower path still finds these jobs
        db.rollback()
        logger.exception("could not record %d unsent jobs", len(jobs))


def request_sender(request: HTTPConnection) -> Sender:
    """The sender of the request's app: `app.state.job_sender`, Celery unless a test put a
    recorder there. Read from the app's state rather than resolved as a dependency of its
    own: each dependency node costs every request that opens a session some CPU."""
    sender: Sender = getattr(request.app.state, "job_sender", celery_sender)
    return sender


class UnitOfWork:
    """Short transactions on one session, owned by the router or task that made it."""

    def __init__(self, db: Session, sender: Sender | None = None) -> None:
        self.db = db
        self.sender = sender

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit at the end (then send the jobs enqueued), roll back on error."""
        try:
            yield self.db
            commit(self.db)
        except BaseException:
            self.db.rollback()
            discard(self.db)
            raise
        send_after_commit(self.db, self.sender)
