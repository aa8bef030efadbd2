"""Batch jobs of up to 100 tickets: submission, the job and item rows, and their queries.

A job is resumable at every step (see `app.batch.runner`). Items move pending → analyzed →
writing → done (or failed); those states are the idempotency keys that let the next worker
continue a killed one's job without repeating analyses, tags or notes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from app import unit_of_work
from app.accounts import integrations
from app.accounts.integrations import ResolvedIntegration
from app.config import get_settings
from app.enums import ItemStatus, JobOrigin, JobState
from app.errors import NotFound
from app.models import BatchJob, BatchJobItem, TicketAnalysis, utcnow

MAX_BATCH_SIZE = 100
STALL_AFTER = timedelta(minutes=30)
FINAL_JOB_STATES = {JobState.succeeded, JobState.partially_failed, JobState.failed}
OPEN_ITEM_STATES = (ItemStatus.pending, ItemStatus.analyzed, ItemStatus.writing)


def lease() -> timedelta:
    return timedelta(seconds=get_settings().batch_lease_s)


class LeaseHeld(Exception):
    """Another live worker is running this job; try again later."""

    def __init__(self, retry_in_s: float) -> None:
        super().__init__(f"job is leased for another {retry_in_s:.0f} s")
        self.retry_in_s = retry_in_s


class UserAtCapacity(Exception):
    """The job's owner already runs their fair share of jobs: the job waits for a share."""

    def __init__(self, running: int) -> None:
        super().__init__(f"the user already runs {running} batch jobs")
        self.running = running


# pg_advisory_xact_lock(namespace, user_id): one user's claims and finished jobs pass one at
# a time.
_FAIR_SHARE_LOCK = 0x6A6F6273


def _lock_user_share(db: Session, user_id: int) -> None:
    """The user's fair-share lock, held to the end of the transaction (SQLite: the write
    lock every session begins with serialises them already)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :user_id)"),
            {"namespace": _FAIR_SHARE_LOCK, "user_id": user_id},
        )


def ensure_fair_share(db: Session, job: BatchJob) -> None:
    """Raise UserAtCapacity when the job's owner already runs BATCH_JOBS_PER_USER other jobs
    (running with a live lease). Called in the claim's transaction, before taking the lease,
    under the user's lock: two workers claiming jobs of one user count one after the other,
    never both under the cap."""
    _lock_user_share(db, job.user_id)
    running = db.scalar(
        select(func.count())
        .select_from(BatchJob)
        .where(
            BatchJob.user_id == job.user_id,
            BatchJob.id != job.id,
            BatchJob.state == JobState.running,
            BatchJob.lease_expires_at > utcnow(),
        )
    )
    if running is not None and running >= get_settings().batch_jobs_per_user:
        raise UserAtCapacity(running)


def wait_for_share(job: BatchJob) -> None:
    """Leave a job over its owner's share waiting in the database, its task done with: it
    is sent again when one of the user's jobs finishes (`hand_on_share`), or by the
    stalled-job sweep within a minute (a share freed by a lease that ran out: its worker
    died). A job that went back to the queue every couple of seconds instead cost a claim
    and a task each time: two or three per waiting job, forty a second for a user with a
    hundred jobs queued."""
    job.dispatched_at = None


def hand_on_share(db: Session, user_id: int) -> None:
    """One of the user's jobs finished (in the caller's transaction): send their oldest job
    waiting for a share after the commit (if any). Under the user's lock, so a claim
    that found the user at capacity either left its job waiting before this looks, or
    counted the finished job as finished."""
    _lock_user_share(db, user_id)
    query = (
        select(BatchJob)
        .where(
            BatchJob.user_id == user_id,
            BatchJob.state == JobState.queued,
            BatchJob.dispatched_at.is_(None),
        )
        .order_by(BatchJob.created_at, BatchJob.id)
        .limit(1)
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    job = db.scalar(query)
    if job is not None:
        job.dispatched_at = utcnow()
        enqueue_run(db, job.id)


class TransientUpstreamError(Exception):
    """Zendesk failed in a way worth retrying the whole job later."""


@dataclass(frozen=True)
class JobContext:
    job_id: str
    user_id: int
    worker_id: str
    integration: ResolvedIntegration


# --- submission --------------------------------------------------------------------------


def create_job(
    *, db: Session, user_id: int, zendesk_ticket_ids: list[int], origin: str = JobOrigin.api
) -> BatchJob:
    if not 1 <= len(zendesk_ticket_ids) <= MAX_BATCH_SIZE:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH_SIZE} tickets")
    job = BatchJob(
        id=str(uuid.uuid4()),
        user_id=user_id,
        state=JobState.queued,
        total=len(zendesk_ticket_ids),
        origin=origin,
    )
    db.add(job)
    db.flush()
    db.add_all(
        BatchJobItem(job_id=job.id, zendesk_ticket_id=ticket_id, position=position)
        for position, ticket_id in enumerate(zendesk_ticket_ids)
    )
    db.flush()
    return job


def submit(
    *, db: Session, user_id: int, zendesk_ticket_ids: list[int], origin: str = JobOrigin.api
) -> BatchJob:
    """Create the job; it is sent to the workers once the caller's transaction commits."""
    integrations.resolve(db=db, user_id=user_id)  # fail fast (400) when nothing is configured
    job = create_job(db=db, user_id=user_id, zendesk_ticket_ids=zendesk_ticket_ids, origin=origin)
    enqueue_run(db, job.id)
    return job


def enqueue_run(db: Session, job_id: str) -> None:
    """Send the job to the workers after the caller's commit; if that send fails, the job is
    marked unsent and the next sweep (every minute) sends it again."""
    unit_of_work.enqueue(db, unit_of_work.PROCESS_BATCH, job_id, on_unsent=_mark_unsent)


def _mark_unsent(db: Session, queued: unit_of_work.QueuedJob) -> None:
    db.execute(
        update(BatchJob)
        .where(BatchJob.id == queued.args[0], BatchJob.state == JobState.queued)
        .values(dispatched_at=None)
        .execution_options(synchronize_session=False)
    )


def stalled_jobs(*, db: Session, limit: int = 500) -> list[str]:
    """Jobs whose task is gone: queued whose send failed at commit or that wait for their
    owner's share (`dispatched_at` cleared, taken at the next run), and those lost
    otherwise (a message lost with the broker's data, a process that died between its
    commit and the send, a task that gave up without recording it): queued for longer
    than any queue wait, or running with a lease that expired long ago. Each is marked as
    handed again and sent after the caller's commit, so it comes back at most once per
    STALL_AFTER (or per run while its sends fail); a job handed twice is harmless (the
    second run finds it finished or leased)."""
    now = utcnow()
    query = (
        select(BatchJob)
        .where(
            or_(
                and_(BatchJob.state == JobState.queued, BatchJob.dispatched_at.is_(None)),
                and_(
                    BatchJob.dispatched_at < now - STALL_AFTER,
                    or_(
                        BatchJob.state == JobState.queued,
                        and_(
                            BatchJob.state == JobState.running,
                            BatchJob.lease_expires_at < now - STALL_AFTER,
                        ),
                    ),
                ),
            )
        )
        .order_by(BatchJob.dispatched_at.is_not(None), BatchJob.dispatched_at)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    jobs = list(db.scalars(query))
    for job in jobs:
        job.dispatched_at = now
        enqueue_run(db, job.id)
    return [job.id for job in jobs]


def get_job(*, db: Session, user_id: int, job_id: str) -> BatchJob:
    job = db.get(BatchJob, job_id)
    if job is None or job.user_id != user_id:
        raise NotFound(f"Job {job_id} not found")
    return job


def job_items(*, db: Session, job_id: str) -> list[tuple[BatchJobItem, TicketAnalysis | None]]:
    """The job's items in submitted order, each with its ticket's analysis once there is one."""
    rows = db.execute(
        select(BatchJobItem, TicketAnalysis)
        .outerjoin(TicketAnalysis, TicketAnalysis.ticket_id == BatchJobItem.ticket_id)
        .where(BatchJobItem.job_id == job_id)
        .order_by(BatchJobItem.position)
    ).all()
    return [(item, analysis) for item, analysis in rows]


def recent_jobs(
    *, db: Session, user_id: int, limit: int = 20, before: str | None = None
) -> list[BatchJob]:
    """The user's jobs, newest first; `before` (a job id from the previous page) continues
    after that job. An unknown `before` is a 404 rather than a silently restarted list."""
    query = select(BatchJob).where(BatchJob.user_id == user_id)
    if before is not None:
        anchor = db.scalar(
            select(BatchJob).where(BatchJob.id == before, BatchJob.user_id == user_id)
        )
        if anchor is None:
            raise NotFound(f"Batch job {before} not found")
        query = query.where(
            or_(
                BatchJob.created_at < anchor.created_at,
                and_(BatchJob.created_at == anchor.created_at, BatchJob.id < anchor.id),
            )
        )
    ordered = query.order_by(BatchJob.created_at.desc(), BatchJob.id.desc())
    return list(db.scalars(ordered.limit(limit)))


# --- shared by the runner's phases ------------------------------------------------------------


def renew(db: Session, ctx: JobContext) -> None:
    """Extend the job's lease and refresh its counts with one UPDATE (loading the job, then
    counting its items, then flushing it took three statements, several times a job)."""
    result = db.execute(
        update(BatchJob)
        .where(BatchJob.id == ctx.job_id)
        .values(
            lease_expires_at=utcnow() + lease(),
            done=_count_items(ctx.job_id, ItemStatus.done, ItemStatus.analyzed, ItemStatus.writing),
            failed=_count_items(ctx.job_id, ItemStatus.failed),
        )
        .execution_options(synchronize_session=False)
    )
    assert result.rowcount == 1, f"batch job {ctx.job_id} is gone"


def _count_items(job_id: str, *statuses: ItemStatus) -> Any:
    return (
        select(func.count())
        .select_from(BatchJobItem)
        .where(BatchJobItem.job_id == job_id, BatchJobItem.status.in_(statuses))
        .scalar_subquery()
    )


def refresh_counts(db: Session, job: BatchJob) -> None:
    rows = db.execute(
        select(BatchJobItem.status, func.count())
        .where(BatchJobItem.job_id == job.id)
        .group_by(BatchJobItem.status)
    ).all()
    counts = {status: int(count) for status, count in rows}
    job.failed = counts.get(ItemStatus.failed, 0)
    job.done = sum(
        counts.get(status, 0)
        for status in (ItemStatus.done, ItemStatus.analyzed, ItemStatus.writing)
    )


def open_items(db: Session, job_id: str) -> list[BatchJobItem]:
    return list(
        db.scalars(
            select(BatchJobItem)
            .where(BatchJobItem.job_id == job_id, BatchJobItem.status.in_(OPEN_ITEM_STATES))
            .order_by(BatchJobItem.position)
        )
    )


def rows_by_id(db: Session, model: type[Any], ids: list[int], *options: Any) -> dict[int, Any]:
    """Rows of `model` by primary key, loaded with one query (and loader `options`)."""
    query = select(model).where(model.id.in_(ids)).options(*options)
    return {row.id: row for row in db.scalars(query)}


def set_items(db: Session, item_ids: list[int], **values: Any) -> None:
    """Give many items the same values with one UPDATE (the ORM would flush each one); for
    items this session has not loaded, or will not change through the ORM."""
    if item_ids:
        db.execute(
            update(BatchJobItem)
            .where(BatchJobItem.id.in_(item_ids))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def set_each(db: Session, values_by_item: dict[int, dict[str, Any]]) -> None:
    """Give each item its own values (the same columns for all) with one executemany rather
    than an ORM flush of each; for items not changed through the ORM in this session."""
    if not values_by_item:
        return
    names = list(next(iter(values_by_item.values())))
    table = BatchJobItem.__table__
    db.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in names}),
        [
            {"b_id": item_id, **{f"b_{name}": values[name] for name in names}}
            for item_id, values in values_by_item.items()
        ],
    )


def open_item_rows(db: Session, job_id: str) -> list[tuple[int, int]]:
    """(item id, Zendesk ticket id) of the job's open items, in order; no item loaded."""
    rows = db.execute(
        select(BatchJobItem.id, BatchJobItem.zendesk_ticket_id)
        .where(BatchJobItem.job_id == job_id, BatchJobItem.status.in_(OPEN_ITEM_STATES))
        .order_by(BatchJobItem.position)
    )
    return [(item_id, zendesk_ticket_id) for item_id, zendesk_ticket_id in rows]


def fail_item(item: BatchJobItem, error: str) -> None:
    item.status = ItemStatus.failed
    item.error = error[:2000]
    item.finished_at = utcnow()
