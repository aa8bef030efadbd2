"""Constants, error shapes and small records shared by the Zendesk simulator's modules."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

SEED_PATH = Path(__file__).parent.parent / "seeds" / "zendesk_seed.json"

DEFAULT_EMAIL = "agent@example.com"
DEFAULT_API_TOKEN = "sim-api-token"
DEFAULT_OAUTH_TOKEN = "sim-oauth-token"
DEFAULT_BASE_URL = "https://acme.zendesk.com"

STATUS_ORDER = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITY_ORDER = ("low", "normal", "high", "urgent")
TICKET_TYPES = ("problem", "incident", "question", "task")

MAX_IDS = 100
MAX_PAGE_SIZE = 100
MAX_EXPORT_PAGE_SIZE = 1000
MAX_INCREMENTAL_PAGE_SIZE = 1000
SEARCH_RESULT_LIMIT = 1000
MAX_QUEUED_JOBS = 30
NOMINAL_RATE_LIMIT = 2500
WINDOW_S = 60.0

# Per-endpoint limits of the real service; opt in with `sim.endpoint_limits = REAL_...`.
REAL_ENDPOINT_LIMITS_PER_MINUTE: dict[str, int] = {
    "update_ticket": 100,
    "search_export": 100,
    "incremental_tickets": 10,
    "incremental_tickets_by_time": 10,
}

ACCOUNT_ID = 9_242_270
WEBHOOK_EVENT_VERSION = "2022-11-06"
WEBHOOK_RETRY_STATUSES = {409, 429, 500, 502, 503, 504}
WEBHOOK_MAX_RETRIES = 3
# Our update field names → the ticket event types of Zendesk's event subscriptions.
CHANGE_EVENT_TYPES = {
    "tags": "ticket.tags_changed",
    "comment": "ticket.comment_added",
    "status": "ticket.status_changed",
    "priority": "ticket.priority_changed",
    "subject": "ticket.subject_changed",
    "type": "ticket.type_changed",
    "assignee_id": "ticket.agent_assignment_changed",
    "group_id": "ticket.group_assignment_changed",
    "requester_id": "ticket.requester_changed",
    "custom_fields": "ticket.custom_field_changed",
}

DEFAULT_ORGANIZATIONS: tuple[dict[str, Any], ...] = (
    {"id": 362000000001, "name": "Acme GmbH", "domain_names": ["acme-gmbh.de"]},
    {"id": 362000000002, "name": "Globex Corporation", "domain_names": ["globex.example"]},
    {"id": 362000000003, "name": "Umbrella Retail", "domain_names": ["umbrella.example"]},
)
"""Organizations of a seed that names none."""

NOT_AUTHENTICATED = {"error": "Couldn't authenticate you"}
NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
FORBIDDEN = {
    "error": "Forbidden",
    "description": "You do not have access to this page. Please contact the account owner "
    "of this help desk for further help.",
}

TICKET_DEFAULTS: dict[str, Any] = {
    "external_id": None,
    "via": {"channel": "api"},
    "type": None,
    "priority": None,
    "status": "new",
    "recipient": None,
    "submitter_id": None,
    "assignee_id": None,
    "organization_id": None,
    "group_id": None,
    "collaborator_ids": [],
    "follower_ids": [],
    "email_cc_ids": [],
    "forum_topic_id": None,
    "problem_id": None,
    "has_incidents": False,
    "is_public": True,
    "due_at": None,
    "tags": [],
    "custom_fields": [],
    "satisfaction_rating": None,
    "sharing_agreement_ids": [],
    "followup_ids": [],
    "brand_id": 360000000101,
    "allow_channelback": False,
    "allow_attachments": True,
    "from_messaging_channel": False,
}


def iso_utc(moment: datetime) -> str:
    """Zendesk's timestamp format: ISO-8601, UTC, whole seconds, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_webhook(secret: str, timestamp: str, raw_body: bytes) -> str:
    """Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp + body))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _encode_cursor(key: tuple[Any, ...]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, _invalid_pagination("cursor is not valid")) from exc
    if not isinstance(value, list):
        raise HttpError(400, _invalid_pagination("cursor is not valid"))
    return tuple(value)


def _invalid_pagination(description: str) -> dict[str, Any]:
    return {"error": "InvalidPaginationParameter", "description": description}


WEBHOOK_ADMIN_EVENTS = frozenset({"ticket.created"})
"""Event types a webhook made through the sandbox's webhooks API can subscribe to."""


def _webhook_error(code: str, detail: str) -> dict[str, Any]:
    """The webhooks API's error shape (unlike the tickets API's `RecordInvalid`)."""
    return {"errors": [{"code": code, "title": code, "detail": detail}]}


def _record_invalid(details: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    return {"error": "RecordInvalid", "description": "Record validation errors", "details": details}


def _detail(field_name: str, description: str, error: str = "InvalidValue") -> dict[str, Any]:
    return {field_name: [{"description": description, "error": error}]}


def normalize_tags(value: Any) -> list[str]:
    """Tags as Zendesk stores them: lower case, whitespace splits, no duplicates."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise HttpError(422, _record_invalid(_detail("tags", "Tags: must be a list of strings")))
    tags: list[str] = []
    for item in value:
        for tag in item.replace(",", " ").split():
            tag = tag.strip().lower()
            if tag and tag not in tags:
                tags.append(tag)
    return tags


class HttpError(Exception):
    """Raised inside a handler: becomes a response with this status and JSON body."""

    def __init__(
        self, status_code: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.payload = payload
        self.headers = headers or {}


@dataclass
class RecordedCall:
    """One request the simulator received (credentials are never recorded)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    time: float
    auth_scheme: str | None = None
    status: int | None = None


@dataclass
class _Fault:
    status: int | None
    retry_after: float | None = None
    path_contains: str | None = None
    hang_s: float | None = None
    body: Any = None


@dataclass
class _Job:
    id: str
    created: float
    total: int
    operations: list[tuple[int, dict[str, Any], str]]
    status: str = "queued"
    results: list[dict[str, Any]] | None = None
    completed_at: datetime | None = None
    job_type: str = "bulk_update"


@dataclass
class _Context:
    """What a handler gets from the request."""

    method: str
    path_params: dict[str, Any]
    query: dict[str, str]
    body: Any
    base_url: str
    path: str


@dataclass
class _Knobs:
    latency_s: float = 0.0
    rate_limit_per_minute: int | None = None
    fault_5xx_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_s: float = 30.0
    job_delay_s: float = 0.05
    search_index_delay_s: float = 0.0
    incremental_lag_s: float = 0.0
    endpoint_limits: dict[str, int] = field(default_factory=dict)
    accept_undocumented_additional_tags: bool = False


def _id_string(value: Any) -> str | None:
    return None if value is None else str(value)


def _update_conflict() -> dict[str, Any]:
    return {
        "error": "UpdateConflict",
        "description": "Safe Update prevented the update due to outdated ticket data. "
        "Please fetch the latest ticket data and try again.",
    }


def _too_many_requests(retry_after: float) -> Response:
    return PlainTextResponse(
        "Too many requests",
        status_code=429,
        headers={"Retry-After": str(math.ceil(retry_after))},
    )


def _fault_response(fault: _Fault) -> Response:
    status = fault.status or 503
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(math.ceil(fault.retry_after))
    if fault.body is not None:
        if isinstance(fault.body, str):
            return PlainTextResponse(fault.body, status_code=status, headers=headers)
        return JSONResponse(fault.body, status_code=status, headers=headers)
    if status == 429:
        return PlainTextResponse("Too many requests", status_code=429, headers=headers)
    canned: dict[int, Any] = {
        400: {"error": "InvalidValue", "description": "Invalid request"},
        401: NOT_AUTHENTICATED,
        403: FORBIDDEN,
        404: NOT_FOUND,
        409: _update_conflict(),
        422: _record_invalid(_detail("base", "Record validation errors")),
        500: {"error": "InternalError", "description": "Internal server error"},
        502: {"error": "BadGateway", "description": "Bad gateway"},
        503: {"error": "ServiceUnavailable", "description": "Service temporarily unavailable"},
        504: {"error": "GatewayTimeout", "description": "Gateway timeout"},
    }
    payload = canned.get(status, {"error": "Error", "description": f"HTTP {status}"})
    return JSONResponse(payload, status_code=status, headers=headers)
