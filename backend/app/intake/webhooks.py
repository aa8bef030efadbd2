"""Signed Zendesk webhooks become batch jobs, sent to the workers after the commit.

Webhooks (`receive_webhook`): the signature is base64(HMAC-SHA256(secret, timestamp + raw
body)), compared in constant time; a timestamp that is not ISO-8601 is refused, and one
more than 5 minutes away from our clock is refused as stale. A delivery is stored once:
unique per (integration, signed content: timestamp + body), so a captured delivery replayed
under a new invocation id (which is not signed) is recognised; per (integration, invocation
id), so Zendesk's retries are; and per
(user, ticket, event key), the event key being the Zendesk event id or the ticket's
`updated_at` when the body carries one. Processing starts only for tickets that were
created (a `ticket.created` event) or named by a trigger (`{"ticket_id": …}`); other ticket
events are recorded and ignored. A delivery is not queued when our own write-back to that
ticket is in flight or when the ticket's `updated_at` is no later than our
`written_back_at` + OWN_CHANGE_SLACK (our tags and note fire "updated" triggers too). A
ticket already waiting in a queued job is not queued again (that job reads the ticket when
it starts); otherwise it joins the newest queued webhook job of the last COALESCE_WINDOW
(deliveries arriving while workers are busy share one batch of up to 100) or gets a new
1-ticket job.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts import integrations
from app.batch import jobs as batch_jobs
from app.enums import JobOrigin
from app.errors import (
    NotConfigured,
    NotFound,
    Unauthorized,
)
from app.intake.webhook_payloads import (
    MAX_WEBHOOK_BODY_BYTES,
    TICKET_CREATED,
    TICKET_EVENT_PREFIX,
    PayloadTooLarge,
    WebhookHeaders,
    WebhookTicket,
    authenticate,
    parse_payload,
    signed_digest,
)
from app.models import (
    BatchJob,
    BatchJobItem,
    IntegrationSettings,
    Ticket,
    TicketAnalysis,
    WebhookDelivery,
    utcnow,
)

logger = logging.getLogger(__name__)

OWN_CHANGE_SLACK = timedelta(seconds=2)
COALESCE_WINDOW = timedelta(seconds=10)


# --- webhooks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryResult:
    status: str  # queued | duplicate | ignored
    zendesk_ticket_id: int | None = None
    job_id: str | None = None
    reason: str | None = None


def integration_for_webhook(*, db: Session, public_id: str) -> IntegrationSettings:
    row = db.scalar(select(IntegrationSettings).where(IntegrationSettings.public_id == public_id))
    if row is None:
        raise NotFound(
            "Unknown webhook URL: copy it again from GET /settings/", code="unknown_webhook"
        )
    return row


def signing_secret(row: IntegrationSettings) -> str:
    try:
        secret = integrations.decrypted(row.zendesk_webhook_secret_encrypted)
    except ValueError:
        secret = None
    if not secret:
        raise Unauthorized(
            "No webhook signing secret is set: copy it from Zendesk into PUT /settings/ "
            "zendesk_webhook_secret",
            code="invalid_signature",
            headers=None,
        )
    return secret


def receive_webhook(
    *,
    db: Session,
    public_id: str,
    raw_body: bytes,
    headers: WebhookHeaders,
    now: datetime | None = None,
) -> DeliveryResult:
    """Authenticate, record and queue one delivery; a new job is sent after the commit."""
    now = now or utcnow()
    if len(raw_body) > MAX_WEBHOOK_BODY_BYTES:
        raise PayloadTooLarge(f"A webhook body holds at most {MAX_WEBHOOK_BODY_BYTES} bytes")
    row = integration_for_webhook(db=db, public_id=public_id)
    authenticate(secret=signing_secret(row), headers=headers, raw_body=raw_body, now=now)
    ticket = parse_payload(raw_body)
    if ticket.zendesk_ticket_id is None:
        return DeliveryResult(status="ignored", reason=f"{ticket.event_type} is not a ticket event")
    try:
        integrations.zendesk_target(row)  # NotConfigured (400) before anything is stored
    except ValueError as exc:  # a stored token no configured key decrypts
        raise NotConfigured(
            "Zendesk settings cannot be used: enter zendesk_api_token again",
            details={"missing": ["zendesk_api_token"]},
        ) from exc
    user_id, zendesk_ticket_id = row.user_id, ticket.zendesk_ticket_id

    delivery = {
        "integration_id": row.id,
        "user_id": user_id,
        "webhook_id": _header_value(headers.webhook_id),
        "invocation_id": _header_value(headers.invocation_id),
        "signed_digest": signed_digest(timestamp=headers.timestamp or "", raw_body=raw_body),
        "zendesk_ticket_id": zendesk_ticket_id,
        "event_type": ticket.event_type,
        "event_key": ticket.event_key,
        "ticket_updated_at": ticket.updated_at,
        "status": "queued",
        "received_at": now,
    }
    # From here on, deliveries about this ticket are decided one at a time (see _lock_ticket).
    delivery_id = _insert_delivery(db, delivery)
    if delivery_id is None:
        return _already_received(db, row, delivery)
    _lock_ticket(db, user_id=user_id, zendesk_ticket_id=zendesk_ticket_id)

    job_id, created, reason = None, False, _ignore_reason(db, user_id=user_id, ticket=ticket)
    in_flight = (
        None if reason else _in_flight(db, user_id=user_id, zendesk_ticket_id=zendesk_ticket_id)
    )
    if reason is not None:
        status = "ignored"
    elif in_flight is not None and in_flight.writing:
        status, reason = "ignored", "our own write-back to this ticket is in progress"
    elif in_flight is not None and in_flight.queued_job_id is not None:
        status, reason = "duplicate", "the ticket is already queued"
        job_id = in_flight.queued_job_id
    else:
        status = "queued"
        job_id, created = _queue_ticket(
            db, user_id=user_id, zendesk_ticket_id=zendesk_ticket_id, now=now
        )
    db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status=status, reason=reason, job_id=job_id)
    )
    result = DeliveryResult(
        status=status, zendesk_ticket_id=zendesk_ticket_id, job_id=job_id, reason=reason
    )
    if created and job_id is not None:
        batch_jobs.enqueue_run(db, job_id)
    logger.info(
        "zendesk webhook: user_id=%s ticket=%s status=%s job=%s",
        user_id,
        zendesk_ticket_id,
        result.status,
        job_id,
    )
    return result


def _header_value(value: str | None) -> str | None:
    return value.strip()[:64] or None if value else None


def _insert_delivery(db: Session, values: dict[str, Any]) -> int | None:
    """Store the delivery unless its invocation or ticket event is already stored (then
    None). On PostgreSQL a concurrent twin waits for the first to commit, then conflicts."""
    dialect = db.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(WebhookDelivery)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(WebhookDelivery.id)
        )
        return db.execute(statement).scalar_one_or_none()
    delivery = WebhookDelivery(**values)
    try:
        with db.begin_nested():
            db.add(delivery)
            db.flush()
    except IntegrityError:
        return None
    return delivery.id


def _already_received(
    db: Session, row: IntegrationSettings, delivery: dict[str, Any]
) -> DeliveryResult:
    """The invocation or the ticket event was stored before: report the first delivery."""
    conditions = [
        (WebhookDelivery.integration_id == row.id)
        & (WebhookDelivery.signed_digest == delivery["signed_digest"])
    ]
    if delivery["event_key"] is not None:
        conditions.append(
            (WebhookDelivery.user_id == row.user_id)
            & (WebhookDelivery.zendesk_ticket_id == delivery["zendesk_ticket_id"])
            & (WebhookDelivery.event_key == delivery["event_key"])
        )
    if delivery["invocation_id"] is not None:
        conditions.append(
            (WebhookDelivery.integration_id == row.id)
            & (WebhookDelivery.invocation_id == delivery["invocation_id"])
        )
    first_job_id = db.scalar(select(WebhookDelivery.job_id).where(or_(*conditions)).limit(1))
    return DeliveryResult(
        status="duplicate",
        zendesk_ticket_id=delivery["zendesk_ticket_id"],
        job_id=first_job_id,
        reason="this delivery was already received",
    )


def _lock_ticket(db: Session, *, user_id: int, zendesk_ticket_id: int) -> None:
    """Deliveries about one ticket decide one after another (until commit), so two that
    arrive together cannot both create a job. SQLite already has a single writer."""
    if db.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"intake:{user_id}:{zendesk_ticket_id}".encode(), digest_size=8)
    db.execute(
        select(func.pg_advisory_xact_lock(int.from_bytes(digest.digest(), "big", signed=True)))
    )


def _ignore_reason(db: Session, *, user_id: int, ticket: WebhookTicket) -> str | None:
    """Why this delivery must not start processing, or None."""
    event_type = ticket.event_type or ""
    if event_type.startswith(TICKET_EVENT_PREFIX) and event_type != TICKET_CREATED:
        return f"{event_type} does not start processing (only ticket.created)"
    if ticket.updated_at is not None:
        written_back_at = db.scalar(
            select(TicketAnalysis.written_back_at)
            .join(Ticket, Ticket.id == TicketAnalysis.ticket_id)
            .where(Ticket.user_id == user_id, Ticket.zendesk_ticket_id == ticket.zendesk_ticket_id)
        )
        if written_back_at is not None and ticket.updated_at <= written_back_at + OWN_CHANGE_SLACK:
            return "the ticket's last change is our own write-back"
    return None


@dataclass(frozen=True)
class InFlight:
    writing: bool  # a running job is writing our tags and note to this ticket right now
    queued_job_id: str | None  # a job holding the ticket that no worker has started yet


def _in_flight(db: Session, *, user_id: int, zendesk_ticket_id: int) -> InFlight | None:
    rows = db.execute(
        select(BatchJob.id, BatchJob.state, BatchJobItem.status)
        .join(BatchJobItem, BatchJobItem.job_id == BatchJob.id)
        .where(
            BatchJob.user_id == user_id,
            BatchJob.state.in_(("queued", "running")),
            BatchJobItem.zendesk_ticket_id == zendesk_ticket_id,
        )
    ).all()
    if not rows:
        return None
    return InFlight(
        writing=any(state == "running" and status == "writing" for _, state, status in rows),
        queued_job_id=next((job_id for job_id, state, _ in rows if state == "queued"), None),
    )


def _queue_ticket(
    db: Session, *, user_id: int, zendesk_ticket_id: int, now: datetime
) -> tuple[str, bool]:
    """(job id, whether the job is new and must be dispatched)."""
    joined = _join_open_job(db, user_id=user_id, zendesk_ticket_id=zendesk_ticket_id, now=now)
    if joined is not None:
        return joined, False
    job = batch_jobs.create_job(
        db=db, user_id=user_id, zendesk_ticket_ids=[zendesk_ticket_id], origin=JobOrigin.webhook
    )
    return job.id, True


def _join_open_job(
    db: Session, *, user_id: int, zendesk_ticket_id: int, now: datetime
) -> str | None:
    """Add the ticket to the newest webhook job still waiting for a worker, if any.

    The UPDATE re-checks `state = 'queued'` under the row lock a worker's claim also takes,
    so the ticket either lands before the worker reads the job's items or the update
    matches nothing and a new job is made.
    """
    newest_open = (
        select(BatchJob.id)
        .where(
            BatchJob.user_id == user_id,
            BatchJob.origin == JobOrigin.webhook,
            BatchJob.state == "queued",
            BatchJob.created_at >= now - COALESCE_WINDOW,
            BatchJob.total < batch_jobs.MAX_BATCH_SIZE,
        )
        .order_by(BatchJob.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    joined = db.execute(
        update(BatchJob)
        .where(
            BatchJob.id == newest_open,
            BatchJob.state == "queued",
            BatchJob.total < batch_jobs.MAX_BATCH_SIZE,
        )
        .values(total=BatchJob.total + 1)
        .returning(BatchJob.id, BatchJob.total)
        .execution_options(synchronize_session=False)
    ).first()
    if joined is None:
        return None
    job_id, new_total = joined
    db.add(BatchJobItem(job_id=job_id, zendesk_ticket_id=zendesk_ticket_id, position=new_total - 1))
    db.flush()
    return str(job_id)
