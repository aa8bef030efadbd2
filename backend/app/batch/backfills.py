"""Backfills: a Zendesk search (or a creation-date range) turned into batch jobs of up to
100 tickets, shared by `POST /tickets/backfill` and the `triage backfill` command.

The API's backfill runs in a Celery task in three phases: *plan* marks it `searching`,
*I/O* searches Zendesk with no transaction open, *record* creates every child job in one
short transaction and sends them after its commit. A redelivered task finds the backfill
past `searching` and does nothing, so children are never created twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import unit_of_work
from app.accounts import integrations
from app.accounts.integrations import ZendeskTarget
from app.batch.jobs import FINAL_JOB_STATES, MAX_BATCH_SIZE, create_job
from app.batch.tables import Backfill
from app.database import session_scope
from app.enums import BackfillState, JobOrigin, JobState
from app.errors import AppError, NotFound
from app.integrations.zendesk import ZendeskError, ZendeskRateLimited, ZendeskUnavailable
from app.models import BatchJob

RUN_BACKFILL = "triage.run_backfill"
MAX_TICKETS = 10_000
OPEN_STATES = (BackfillState.queued, BackfillState.searching)


def search_query(*, query: str | None, start: date | None, end: date | None) -> str:
    """The Zendesk search: `query`, narrowed to tickets created in [start, end)."""
    parts = [query.strip()] if query and query.strip() else []
    if start is not None:
        parts.append(f"created>={start.isoformat()}")
    if end is not None:
        parts.append(f"created<{end.isoformat()}")
    if not parts:
        raise ValueError("give a search query or a date range")
    return " ".join(parts)


def search_ticket_ids(target: ZendeskTarget, query: str, limit: int | None = None) -> list[int]:
    """Ids of the tickets the search finds (the first `limit`, in Zendesk's order), sorted.
    Calls Zendesk: never inside a transaction."""
    from app.pipeline.steps import zendesk_client

    found: dict[int, None] = {}
    for ticket in zendesk_client(target).search(query):
        if "id" in ticket:
            found[int(ticket["id"])] = None
            if limit is not None and len(found) >= limit:
                break
    return sorted(found)


def chunked(ticket_ids: Sequence[int], size: int = MAX_BATCH_SIZE) -> list[list[int]]:
    return [list(ticket_ids[i : i + size]) for i in range(0, len(ticket_ids), size)]


# --- the API's backfill -------------------------------------------------------------------


def submit(*, db: Session, user_id: int, query: str, max_tickets: int = MAX_TICKETS) -> Backfill:
    """Record a backfill; its search task is sent once the caller's transaction commits."""
    integrations.resolve(db=db, user_id=user_id)  # fail fast (400) when nothing is configured
    backfill = Backfill(
        id=str(uuid.uuid4()),
        user_id=user_id,
        state=BackfillState.queued,
        query=query,
        max_tickets=max_tickets,
    )
    db.add(backfill)
    db.flush()
    unit_of_work.enqueue(db, RUN_BACKFILL, backfill.id)
    return backfill


def run(backfill_id: str) -> None:
    """The task's body: plan → search → record (see the module's docstring)."""
    with session_scope() as db:
        backfill = db.get(Backfill, backfill_id)
        if backfill is None or backfill.state not in OPEN_STATES:
            return
        backfill.state = BackfillState.searching
        target = integrations.resolve(db=db, user_id=backfill.user_id).zendesk
        query, limit = backfill.query, backfill.max_tickets
    try:
        ticket_ids = search_ticket_ids(target, query, limit)
    except (AppError, ZendeskError) as exc:
        if isinstance(exc, ZendeskRateLimited | ZendeskUnavailable) or (
            isinstance(exc, AppError) and exc.status_code >= 500
        ):
            raise  # unreachable or rate limited: the task retries
        with session_scope() as db:
            backfill = _locked(db, backfill_id)
            if backfill is not None and backfill.state in OPEN_STATES:
                backfill.state = BackfillState.failed
                backfill.error = f"the Zendesk search failed: {exc.message}"[:2000]
        return
    with session_scope() as db:
        backfill = _locked(db, backfill_id)
        if backfill is None or backfill.state not in OPEN_STATES:
            return  # another delivery recorded it first
        for chunk in chunked(ticket_ids):
            job = create_job(
                db=db, user_id=backfill.user_id, zendesk_ticket_ids=chunk, origin=JobOrigin.api
            )
            job.parent_id = backfill.id
            unit_of_work.enqueue(db, unit_of_work.PROCESS_BATCH, job.id)
        backfill.found = len(ticket_ids)
        backfill.state = BackfillState.running if ticket_ids else BackfillState.succeeded


def fail(backfill_id: str, reason: str) -> None:
    """The task gave up (after its retries): the backfill fails unless it got further."""
    with session_scope() as db:
        backfill = _locked(db, backfill_id)
        if backfill is not None and backfill.state in OPEN_STATES:
            backfill.state = BackfillState.failed
            backfill.error = reason[:2000]


def _locked(db: Session, backfill_id: str) -> Backfill | None:
    query = select(Backfill).where(Backfill.id == backfill_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return db.scalars(query).one_or_none()


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillView:
    backfill: Backfill
    job_ids: list[str]
    total: int
    done: int
    failed: int


def get(*, db: Session, user_id: int, backfill_id: str) -> BackfillView:
    """The backfill with its children's ids and summed progress; its state moves to a final
    one here once every child has finished."""
    backfill = db.get(Backfill, backfill_id)
    if backfill is None or backfill.user_id != user_id:
        raise NotFound(f"Backfill {backfill_id} not found")
    jobs = list(
        db.scalars(
            select(BatchJob)
            .where(BatchJob.parent_id == backfill.id)
            .order_by(BatchJob.created_at, BatchJob.id)
        )
    )
    if backfill.state == BackfillState.running and jobs:
        states = {job.state for job in jobs}
        if states <= FINAL_JOB_STATES:
            if states == {JobState.succeeded}:
                backfill.state = BackfillState.succeeded
            elif states == {JobState.failed}:
                backfill.state = BackfillState.failed
            else:
                backfill.state = BackfillState.partially_failed
            db.flush()
    return BackfillView(
        backfill=backfill,
        job_ids=[job.id for job in jobs],
        total=sum(job.total for job in jobs),
        done=sum(job.done for job in jobs),
        failed=sum(job.failed for job in jobs),
    )
