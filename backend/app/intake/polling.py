"""Incremental-export polling becomes batch jobs, sent to the workers after the commit.

Polling (`poll_integration`): reads the incremental ticket export from the stored cursor
(the first run starts FIRST_POLL_LOOKBACK ago), queues tickets in jobs of at most 100, then
stores the new cursor, so a restart resumes where the last page ended. A ticket is queued
when we have no analysis of it or when its subject or description (what the analysis
reads) differ from what we stored. Every other change — status, comments, and the tags and
note we wrote ourselves — is skipped; the rule needs no clock comparison.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app import unit_of_work
from app.accounts import integrations
from app.batch import jobs as batch_jobs
from app.config import get_settings
from app.enums import JobOrigin
from app.errors import (
    Unprocessable,
)
from app.intake.webhook_payloads import (
    ticket_id_of,
)
from app.integrations.zendesk import ZendeskClient
from app.models import (
    BatchJob,
    BatchJobItem,
    IntegrationSettings,
    Ticket,
    TicketAnalysis,
    WebhookDelivery,
    utcnow,
)
from app.pipeline import store as ticket_store
from app.pipeline.steps import zendesk_client
from app.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

FIRST_POLL_LOOKBACK = timedelta(hours=1)
MAX_EXPORT_PAGES_PER_RUN = 5  # the export allows 10 requests a minute per account


# --- polling -------------------------------------------------------------------------------


@dataclass
class PollResult:
    integration_id: int
    pages: int = 0
    tickets_seen: int = 0
    queued: int = 0
    job_ids: list[str] = field(default_factory=list)
    end_of_stream: bool = False
    cursor: str | None = None
    stopped: str | None = None


def prune_deliveries(*, db: Session, now: datetime | None = None, chunk_size: int = 5000) -> int:
    """Delete one chunk of webhook deliveries older than the retention period; returns how
    many (the caller commits each chunk: short locks on a busy table). Zendesk repeats a
    delivery within hours, so older rows no longer serve deduplication."""
    days = get_settings().webhook_delivery_retention_days
    cutoff = (now or utcnow()) - timedelta(days=days)
    ids = db.scalars(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.received_at < cutoff)
        .order_by(WebhookDelivery.received_at)
        .limit(chunk_size)
    ).all()
    if ids:
        db.execute(
            delete(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
    return len(ids)


def claim_due_integrations(*, db: Session, now: datetime | None = None) -> list[int]:
    """Integrations with polling on whose interval has passed, each claimed by moving its
    `polling_last_run_at` to now (a conditional update: two dispatchers never both win); a
    poll of each is sent after the caller's commit."""
    now = now or utcnow()
    rows = db.execute(
        select(
            IntegrationSettings.id,
            IntegrationSettings.polling_interval_s,
            IntegrationSettings.polling_last_run_at,
        ).where(IntegrationSettings.polling_enabled.is_(True))
    ).all()
    claimed: list[int] = []
    for integration_id, interval_s, last_run_at in rows:
        due_before = now - timedelta(seconds=interval_s)
        if last_run_at is not None and last_run_at > due_before:
            continue
        result = db.execute(
            update(IntegrationSettings)
            .where(
                IntegrationSettings.id == integration_id,
                IntegrationSettings.polling_enabled.is_(True),
                or_(
                    IntegrationSettings.polling_last_run_at.is_(None),
                    IntegrationSettings.polling_last_run_at <= due_before,
                ),
            )
            .values(polling_last_run_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(integration_id)
            unit_of_work.enqueue(db, unit_of_work.POLL_ZENDESK, integration_id)
    return claimed


def tickets_to_queue(*, db: Session, user_id: int, tickets: Iterable[dict[str, Any]]) -> list[int]:
    """The exported tickets that need (re)processing, in export order (see module doc)."""
    latest: dict[int, dict[str, Any]] = {}
    for raw in tickets:
        try:
            zendesk_ticket_id = ticket_id_of(raw.get("id"))
        except Unprocessable:
            continue
        latest.pop(zendesk_ticket_id, None)
        latest[zendesk_ticket_id] = raw
    if not latest:
        return []
    ids = list(latest)
    stored = {
        zendesk_ticket_id: (subject, description, analysis_id)
        for zendesk_ticket_id, subject, description, analysis_id in db.execute(
            select(
                Ticket.zendesk_ticket_id,
                Ticket.subject,
                Ticket.description,
                TicketAnalysis.id,
            )
            .outerjoin(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
            .where(Ticket.user_id == user_id, Ticket.zendesk_ticket_id.in_(ids))
        ).all()
    }
    waiting = set(
        db.scalars(
            select(BatchJobItem.zendesk_ticket_id)
            .join(BatchJob, BatchJob.id == BatchJobItem.job_id)
            .where(
                BatchJob.user_id == user_id,
                BatchJob.state == "queued",
                BatchJobItem.zendesk_ticket_id.in_(ids),
            )
        )
    )
    wanted: list[int] = []
    for zendesk_ticket_id, raw in latest.items():
        if raw.get("status") == "deleted" or zendesk_ticket_id in waiting:
            continue
        known = stored.get(zendesk_ticket_id)
        if known is not None and known[2] is not None:
            try:
                fields = ticket_store.ticket_fields(raw)
            except ticket_store.UnstorableTicket:
                fields = {}  # queued: its job reports why it cannot be stored
            if (fields.get("subject"), fields.get("description")) == (known[0], known[1]):
                continue
        wanted.append(zendesk_ticket_id)
    return wanted


def submit_jobs(
    *, db: Session, user_id: int, zendesk_ticket_ids: list[int], origin: str
) -> list[str]:
    """Jobs of at most 100 tickets, sent to the workers after the caller's commit."""
    size = batch_jobs.MAX_BATCH_SIZE
    job_ids = [
        batch_jobs.create_job(
            db=db,
            user_id=user_id,
            zendesk_ticket_ids=zendesk_ticket_ids[i : i + size],
            origin=origin,
        ).id
        for i in range(0, len(zendesk_ticket_ids), size)
    ]
    for job_id in job_ids:
        batch_jobs.enqueue_run(db, job_id)
    return job_ids


def _save_cursor(
    db: Session, *, integration_id: int, expected: str | None, cursor: str | None, now: datetime
) -> bool:
    """Store the cursor unless it changed under us (another poll, or a new Zendesk URL)."""
    current = (
        IntegrationSettings.polling_cursor.is_(None)
        if expected is None
        else IntegrationSettings.polling_cursor == expected
    )
    result = db.execute(
        update(IntegrationSettings)
        .where(IntegrationSettings.id == integration_id, current)
        .values(polling_cursor=cursor, polling_last_run_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def poll_integration(
    *,
    uow: UnitOfWork,
    integration_id: int,
    client: ZendeskClient | None = None,
    now: datetime | None = None,
    max_pages: int = MAX_EXPORT_PAGES_PER_RUN,
) -> PollResult:
    """One polling run: export pages from the stored cursor, queue, store the cursor.

    Each page is read from Zendesk with no transaction open, then its jobs and the new
    cursor are committed together, so a crash repeats at most one page, whose tickets are
    then found already queued. Zendesk errors propagate; the next run starts again from the
    last stored cursor.
    """
    now = now or utcnow()
    result = PollResult(integration_id=integration_id)
    with uow.transaction() as db:
        row = db.get(IntegrationSettings, integration_id)
        if row is None or not row.polling_enabled:
            result.stopped = "polling is off"
            return result
        user_id, cursor = row.user_id, row.polling_cursor
        target = None if client is not None else integrations.zendesk_target(row)
    if client is None:
        assert target is not None
        client = zendesk_client(target)
    start_time = now - FIRST_POLL_LOOKBACK
    result.cursor = cursor
    while result.pages < max_pages:
        if cursor is None:
            tickets, after_cursor, end_of_stream = client.incremental_export(start_time=start_time)
        else:
            tickets, after_cursor, end_of_stream = client.incremental_export(cursor=cursor)
        result.pages += 1
        result.tickets_seen += len(tickets)
        new_cursor = after_cursor or cursor
        with uow.transaction() as db:
            # The cursor first: its compare-and-set claims the page (the row stays locked
            # until the commit), so a run that lost the race adds nothing to roll back.
            if not _save_cursor(
                db, integration_id=integration_id, expected=cursor, cursor=new_cursor, now=now
            ):
                result.stopped = "the cursor changed during the run"  # its jobs cover the page
                return result
            wanted = tickets_to_queue(db=db, user_id=user_id, tickets=tickets)
            if wanted:
                job_ids = submit_jobs(
                    db=db, user_id=user_id, zendesk_ticket_ids=wanted, origin=JobOrigin.poll
                )
        if wanted:
            result.job_ids.extend(job_ids)
            result.queued += len(wanted)
        cursor = result.cursor = new_cursor
        if end_of_stream or not tickets:
            result.end_of_stream = end_of_stream
            break
    logger.info(
        "zendesk poll: integration_id=%s pages=%s seen=%s queued=%s end_of_stream=%s",
        integration_id,
        result.pages,
        result.tickets_seen,
        result.queued,
        result.end_of_stream,
    )
    return result
