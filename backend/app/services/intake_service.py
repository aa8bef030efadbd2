"""Automatic intake: signed Zendesk webhooks and incremental-export polling become batch jobs.

Webhooks (`receive_webhook`): the signature is base64(HMAC-SHA256(secret, timestamp + raw
body)), compared in constant time; a timestamp that is not ISO-8601 is refused, and one
more than 5 minutes away from our clock is refused as stale. A delivery is stored once:
unique per (integration, invocation id), so Zendesk's retries are recognised, and per
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

Polling (`poll_integration`): reads the incremental ticket export from the stored cursor
(the first run starts FIRST_POLL_LOOKBACK ago), queues tickets in jobs of at most 100, then
stores the new cursor, so a restart resumes where the last page ended. A ticket is queued
when we have no analysis of it or when its subject or description (what the analysis
reads) differ from what we stored. Every other change — status, comments, and the tags and
note we wrote ourselves — is skipped; the rule needs no clock comparison.

Jobs are dispatched only after the commit that stores them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts import integrations
from app.config import get_settings
from app.errors import (
    AppError,
    NotConfigured,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
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
from app.schemas import MAX_TICKET_ID
from app.services import batch_service, ticket_store
from app.services.ticket_processor import zendesk_client

logger = logging.getLogger(__name__)

Dispatch = Callable[[str], None]

SIGNATURE_TOLERANCE = timedelta(minutes=5)
OWN_CHANGE_SLACK = timedelta(seconds=2)
COALESCE_WINDOW = timedelta(seconds=10)
FIRST_POLL_LOOKBACK = timedelta(hours=1)
MAX_EXPORT_PAGES_PER_RUN = 5  # the export allows 10 requests a minute per account
MAX_WEBHOOK_BODY_BYTES = 256 * 1024

EVENT_TYPE_PREFIX = "zen:event-type:"
TICKET_EVENT_PREFIX = "zen:event-type:ticket."
TICKET_CREATED = "zen:event-type:ticket.created"
WEBHOOK_ORIGIN = "webhook"
POLL_ORIGIN = "poll"

_DIGITS = re.compile(r"[0-9]{1,19}")
_TICKET_SUBJECT = re.compile(r"zen:ticket:([0-9]{1,19})")


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


# --- signatures (pure) ---------------------------------------------------------------------


def sign(*, secret: str, timestamp: str, raw_body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_matches(*, secret: str, timestamp: str, raw_body: bytes, signature: str) -> bool:
    expected = sign(secret=secret, timestamp=timestamp, raw_body=raw_body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time as aware UTC (a naive one is taken as UTC); None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class WebhookHeaders:
    signature: str | None = None
    timestamp: str | None = None
    webhook_id: str | None = None
    invocation_id: str | None = None


def authenticate(*, secret: str, headers: WebhookHeaders, raw_body: bytes, now: datetime) -> None:
    """Raise Unauthorized unless the delivery is signed with `secret` and fresh."""
    if not headers.signature or not headers.timestamp:
        raise Unauthorized(
            "X-Zendesk-Webhook-Signature and X-Zendesk-Webhook-Signature-Timestamp are required",
            code="missing_signature",
            headers=None,
        )
    if not signature_matches(
        secret=secret, timestamp=headers.timestamp, raw_body=raw_body, signature=headers.signature
    ):
        raise Unauthorized(
            "The webhook signature does not match the signing secret",
            code="invalid_signature",
            headers=None,
        )
    signed_at = parse_time(headers.timestamp)
    if signed_at is None:
        raise Unauthorized(
            "X-Zendesk-Webhook-Signature-Timestamp must be an ISO-8601 time, as Zendesk sends "
            "it (e.g. 2024-01-01T00:00:00Z)",
            code="invalid_timestamp",
            headers=None,
        )
    if abs(now - signed_at) > SIGNATURE_TOLERANCE:
        raise Unauthorized(
            "The webhook is stale: its signature timestamp is more than 5 minutes from now",
            code="stale_signature",
            headers=None,
        )


# --- payloads (pure) -----------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookTicket:
    """What a delivery says: the ticket (None: not about a ticket), the event and the time."""

    zendesk_ticket_id: int | None
    event_type: str | None = None
    event_id: str | None = None
    updated_at: datetime | None = None

    @property
    def event_key(self) -> str | None:
        if self.event_id:
            return f"event:{self.event_id}"[:128]
        if self.updated_at:
            return f"updated:{self.updated_at.isoformat()}"
        return None


def _invalid_id(where: str, *, too_large: bool = False) -> Unprocessable:
    if too_large:
        message, msg = f"a ticket id is at most {MAX_TICKET_ID}", f"must be at most {MAX_TICKET_ID}"
    else:
        message, msg = "must be a positive integer ticket id", "must be a positive integer"
    return Unprocessable(
        f"{where}: {message}", details=[{"loc": ["body", *where.split(".")], "msg": msg}]
    )


def ticket_id_of(value: Any, where: str = "ticket_id") -> int:
    """A Zendesk ticket id from JSON: a positive integer or a string of digits, at most
    MAX_TICKET_ID like a ticket id anywhere else in the API."""
    if isinstance(value, bool):
        raise _invalid_id(where)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise _invalid_id(where)
    if number < 1:
        raise _invalid_id(where)
    if number > MAX_TICKET_ID:
        raise _invalid_id(where, too_large=True)
    return number


def parse_payload(raw_body: bytes) -> WebhookTicket:
    """Read a trigger body (`{"ticket_id": "123"}`, optionally `updated_at`) or an event
    (`{"type": "zen:event-type:ticket.created", "id": …, "detail": {"id": "123", …}}`).
    Lenient on shape, strict on the ticket id (422 when missing or not a positive integer)."""
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable("The body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise Unprocessable("The body must be a JSON object")
    raw_type = payload.get("type")
    is_event = isinstance(raw_type, str) and raw_type.startswith(EVENT_TYPE_PREFIX)
    event_type = raw_type[:80] if is_event else None  # a trigger body's "type" means nothing
    if event_type and not event_type.startswith(TICKET_EVENT_PREFIX):
        return WebhookTicket(zendesk_ticket_id=None, event_type=event_type)
    detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else {}
    ticket = payload.get("ticket") if isinstance(payload.get("ticket"), dict) else {}

    if "ticket_id" in payload:
        zendesk_ticket_id = ticket_id_of(payload["ticket_id"])
    elif is_event and "id" in detail:
        zendesk_ticket_id = ticket_id_of(detail["id"], "detail.id")
    elif "id" in ticket:
        zendesk_ticket_id = ticket_id_of(ticket["id"], "ticket.id")
    elif isinstance(payload.get("subject"), str) and _TICKET_SUBJECT.fullmatch(payload["subject"]):
        zendesk_ticket_id = ticket_id_of(payload["subject"].split(":")[-1], "subject")
    elif not is_event and "id" in payload:
        zendesk_ticket_id = ticket_id_of(payload["id"], "id")
    else:
        raise Unprocessable(
            'The body names no ticket: send {"ticket_id": "{{ticket.id}}"}',
            details=[{"loc": ["body", "ticket_id"], "msg": "field required"}],
        )
    raw_event_id = payload.get("id") if is_event else None
    event_id = str(raw_event_id)[:100] if isinstance(raw_event_id, str | int) else None
    updated_at = parse_time(
        payload.get("updated_at") or detail.get("updated_at") or ticket.get("updated_at")
    )
    return WebhookTicket(
        zendesk_ticket_id=zendesk_ticket_id,
        event_type=event_type,
        event_id=event_id,
        updated_at=updated_at,
    )


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
    dispatch: Dispatch,
    now: datetime | None = None,
) -> DeliveryResult:
    """Authenticate, record and queue one delivery; commits, then dispatches a new job."""
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
    db.commit()
    if created and job_id is not None:
        try:
            dispatch(job_id)
        except Exception as exc:
            logger.exception("could not queue webhook job %s", job_id)
            db.rollback()
            # Forget the delivery and its job so Zendesk's retry of it is accepted.
            db.execute(delete(WebhookDelivery).where(WebhookDelivery.id == delivery_id))
            db.execute(delete(BatchJob).where(BatchJob.id == job_id))
            db.commit()
            raise ServiceUnavailable("The job queue is unavailable; try again shortly") from exc
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
    conditions = []
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
    first_job_id = (
        db.scalar(select(WebhookDelivery.job_id).where(or_(*conditions)).limit(1))
        if conditions
        else None
    )
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
    job = batch_service.create_job(
        db=db, user_id=user_id, zendesk_ticket_ids=[zendesk_ticket_id], origin=WEBHOOK_ORIGIN
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
            BatchJob.origin == WEBHOOK_ORIGIN,
            BatchJob.state == "queued",
            BatchJob.created_at >= now - COALESCE_WINDOW,
            BatchJob.total < batch_service.MAX_BATCH_SIZE,
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
            BatchJob.total < batch_service.MAX_BATCH_SIZE,
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
    """Delete webhook deliveries older than the retention period, a chunk per transaction
    (short locks on a busy table); returns how many. Zendesk repeats a delivery within hours,
    so older rows no longer serve deduplication."""
    days = get_settings().webhook_delivery_retention_days
    cutoff = (now or utcnow()) - timedelta(days=days)
    deleted = 0
    while True:
        ids = db.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.received_at < cutoff)
            .order_by(WebhookDelivery.received_at)
            .limit(chunk_size)
        ).all()
        if not ids:
            return deleted
        db.execute(
            delete(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        db.commit()
        deleted += len(ids)


def claim_due_integrations(*, db: Session, now: datetime | None = None) -> list[int]:
    """Integrations with polling on whose interval has passed, each claimed by moving its
    `polling_last_run_at` to now (a conditional update: two dispatchers never both win)."""
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
    db.commit()
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
            fields = ticket_store.ticket_fields(raw)
            if (fields["subject"], fields["description"]) == (known[0], known[1]):
                continue
        wanted.append(zendesk_ticket_id)
    return wanted


def submit_jobs(
    *, db: Session, user_id: int, zendesk_ticket_ids: list[int], dispatch: Dispatch, origin: str
) -> list[str]:
    """Jobs of at most 100 tickets: committed first, then dispatched. If the queue fails,
    the jobs not dispatched are deleted and ServiceUnavailable is raised."""
    size = batch_service.MAX_BATCH_SIZE
    job_ids = [
        batch_service.create_job(
            db=db,
            user_id=user_id,
            zendesk_ticket_ids=zendesk_ticket_ids[i : i + size],
            origin=origin,
        ).id
        for i in range(0, len(zendesk_ticket_ids), size)
    ]
    db.commit()
    for position, job_id in enumerate(job_ids):
        try:
            dispatch(job_id)
        except Exception as exc:
            logger.exception("could not queue batch job %s", job_id)
            db.rollback()
            db.execute(delete(BatchJob).where(BatchJob.id.in_(job_ids[position:])))
            db.commit()
            raise ServiceUnavailable("The job queue is unavailable; try again shortly") from exc
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
    db.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def poll_integration(
    *,
    db: Session,
    integration_id: int,
    dispatch: Dispatch,
    client: ZendeskClient | None = None,
    now: datetime | None = None,
    max_pages: int = MAX_EXPORT_PAGES_PER_RUN,
) -> PollResult:
    """One polling run: export pages from the stored cursor, queue, store the cursor.

    Commits after each page (jobs first, then the cursor), so a crash repeats at most one
    page, whose tickets are then found already queued. Zendesk errors propagate; the next
    run starts again from the last stored cursor.
    """
    now = now or utcnow()
    result = PollResult(integration_id=integration_id)
    row = db.get(IntegrationSettings, integration_id)
    if row is None or not row.polling_enabled:
        result.stopped = "polling is off"
        return result
    user_id, cursor = row.user_id, row.polling_cursor
    if client is None:
        client = zendesk_client(integrations.zendesk_target(row))
    start_time = now - FIRST_POLL_LOOKBACK
    result.cursor = cursor
    while result.pages < max_pages:
        if cursor is None:
            tickets, after_cursor, end_of_stream = client.incremental_export(start_time=start_time)
        else:
            tickets, after_cursor, end_of_stream = client.incremental_export(cursor=cursor)
        result.pages += 1
        result.tickets_seen += len(tickets)
        wanted = tickets_to_queue(db=db, user_id=user_id, tickets=tickets)
        if wanted:
            job_ids = submit_jobs(
                db=db,
                user_id=user_id,
                zendesk_ticket_ids=wanted,
                dispatch=dispatch,
                origin=POLL_ORIGIN,
            )
            result.job_ids.extend(job_ids)
            result.queued += len(wanted)
        new_cursor = after_cursor or cursor
        if not _save_cursor(
            db, integration_id=integration_id, expected=cursor, cursor=new_cursor, now=now
        ):
            result.stopped = "the cursor changed during the run"
            return result
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
