"""What a Zendesk webhook delivery says and whether it is authentic (pure functions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.errors import (
    AppError,
    Unauthorized,
    Unprocessable,
)
from app.schemas import MAX_TICKET_ID

logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE = timedelta(minutes=5)
MAX_WEBHOOK_BODY_BYTES = 256 * 1024

EVENT_TYPE_PREFIX = "zen:event-type:"
TICKET_EVENT_PREFIX = "zen:event-type:ticket."
TICKET_CREATED = "zen:event-type:ticket.created"

_DIGITS = re.compile(r"[0-9]{1,19}")
_TICKET_SUBJECT = re.compile(r"zen:ticket:([0-9]{1,19})")


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


# --- signatures (pure) ---------------------------------------------------------------------


def sign(*, secret: str, timestamp: str, raw_body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_digest(*, timestamp: str, raw_body: bytes) -> str:
    """Identifies what a signature covers: the same delivery replayed under any invocation
    id has the same digest (and a new timestamp would need the secret to sign)."""
    return hashlib.sha256(timestamp.encode() + raw_body).hexdigest()


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
