"""HTTP-faithful Zendesk Support API simulator for tests, benchmarks and demos.

Behaves like the real API on the points our client depends on (see the upstream API
notes): JSON shapes, cursor and offset pagination, search limits, tag semantics
(`tags` replaces, the tags endpoint and bulk `additional_tags` add), private notes,
asynchronous `update_many` jobs, incremental export, auth, rate limits and faults. It
also sends signed webhooks for the tickets it creates or changes (`add_webhook`), over real
HTTP from background threads, with Zendesk's headers.

    python -m sandbox.zendesk --port 8100 [--latency 0.15] [--rate-limit 400]
        [--webhook-url URL --webhook-secret SECRET]

State lives in a `ZendeskSimulator` (thread-safe: the app runs in a server thread while
tests read and steer it); `create_zendesk_app(sim)` exposes it as `app.state.sim`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import copy
import hashlib
import hmac
import itertools
import json
import math
import random
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

SEED_PATH = Path(__file__).parent / "seeds" / "zendesk_seed.json"

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
class WebhookSubscription:
    """A webhook as configured in Admin Center, with the trigger or event subscription that
    fires it.

    `payload="trigger"` sends `body_template` with `{{ticket.*}}` placeholders rendered
    (a trigger's "Notify active webhook" action); `events` are "ticket.created" and/or
    "ticket.updated". `payload="event"` sends Zendesk's event schema
    (`zen:event-type:ticket.created`, `ticket.tags_changed`, ...); `events` may then also
    name specific ticket event types. `duplicates` sends every delivery that many extra
    times: with the same invocation id (`duplicate_mode="retry"`) or a new one
    (`"new_invocation"`), as Zendesk can.
    """

    url: str
    secret: str = field(repr=False)
    id: str = ""
    events: tuple[str, ...] = ("ticket.created",)
    payload: str = "trigger"
    body_template: dict[str, Any] = field(default_factory=lambda: {"ticket_id": "{{ticket.id}}"})
    duplicates: int = 0
    duplicate_mode: str = "retry"
    timeout_s: float = 5.0
    name: str = ""
    created_at: str = ""

    def wants(self, event_type: str) -> bool:
        if event_type in self.events:
            return True
        return (
            event_type.startswith("ticket.")
            and event_type != "ticket.created"
            and ("ticket.updated" in self.events)
        )


@dataclass
class WebhookAttempt:
    """One HTTP request the simulator sent to a webhook (the secret is never recorded)."""

    webhook_id: str
    invocation_id: str
    event_type: str
    ticket_id: int
    attempt: int
    body: Any
    status_code: int | None = None
    duration_ms: float = 0.0
    error: str | None = None
    sent_at: float = 0.0


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


class ZendeskSimulator:
    """State and knobs of one simulated Zendesk account.

    Knobs (plain attributes, change them at any time): `latency_s`, `rate_limit_per_minute`
    (None = unlimited), `fault_5xx_rate` and `timeout_rate` (0..1, drawn from a seeded
    random), `hang_s`, `job_delay_s`, `search_index_delay_s`, `incremental_lag_s`,
    `endpoint_limits`, `accept_undocumented_additional_tags`. `reset()` restores the seed
    data and the knobs given to the constructor.
    """

    def __init__(
        self,
        *,
        seed_path: Path | None = SEED_PATH,
        email: str = DEFAULT_EMAIL,
        api_token: str = DEFAULT_API_TOKEN,
        oauth_token: str | None = DEFAULT_OAUTH_TOKEN,
        role: str = "admin",
        base_url: str = DEFAULT_BASE_URL,
        random_seed: int = 1234,
        latency_s: float = 0.0,
        rate_limit_per_minute: int | None = None,
        fault_5xx_rate: float = 0.0,
        timeout_rate: float = 0.0,
        hang_s: float = 30.0,
        job_delay_s: float = 0.05,
        search_index_delay_s: float = 0.0,
        incremental_lag_s: float = 0.0,
        endpoint_limits: dict[str, int] | None = None,
        accept_undocumented_additional_tags: bool = False,
    ) -> None:
        self.email = email
        self.api_token = api_token
        self.oauth_token = oauth_token
        self.role = role
        self.base_url = base_url.rstrip("/")
        self.random_seed = random_seed
        self._seed_path = seed_path
        self._initial_knobs = _Knobs(
            latency_s=latency_s,
            rate_limit_per_minute=rate_limit_per_minute,
            fault_5xx_rate=fault_5xx_rate,
            timeout_rate=timeout_rate,
            hang_s=hang_s,
            job_delay_s=job_delay_s,
            search_index_delay_s=search_index_delay_s,
            incremental_lag_s=incremental_lag_s,
            endpoint_limits=dict(endpoint_limits or {}),
            accept_undocumented_additional_tags=accept_undocumented_additional_tags,
        )
        self._lock = threading.RLock()
        self._seed = self._load_seed(seed_path)
        self._generation = 0
        self._webhook_pool: ThreadPoolExecutor | None = None
        self._webhook_http: httpx.Client | None = None
        self.reset()

    # --- knobs ---------------------------------------------------------------------------

    latency_s: float
    rate_limit_per_minute: int | None
    fault_5xx_rate: float
    timeout_rate: float
    hang_s: float
    job_delay_s: float
    search_index_delay_s: float
    incremental_lag_s: float
    endpoint_limits: dict[str, int]
    accept_undocumented_additional_tags: bool

    def _apply_knobs(self, knobs: _Knobs) -> None:
        for name, value in vars(knobs).items():
            setattr(self, name, copy.deepcopy(value))

    # --- state ---------------------------------------------------------------------------

    @staticmethod
    def _load_seed(seed_path: Path | None) -> dict[str, Any]:
        if seed_path is None:
            return {"users": [], "tickets": [], "comments": {}, "labels": {}}
        return json.loads(seed_path.read_text(encoding="utf-8"))

    def reset(self) -> None:
        """Restore seed tickets and constructor knobs; forget calls, jobs, faults, events,
        webhooks and their deliveries (deliveries still queued are dropped)."""
        with self._lock:
            self._generation += 1
            self._apply_knobs(self._initial_knobs)
            self._rng = random.Random(self.random_seed)
            self.users: dict[int, dict[str, Any]] = {
                user["id"]: dict(user) for user in self._seed.get("users", [])
            }
            self.tickets: dict[int, dict[str, Any]] = {}
            for raw in self._seed["tickets"]:
                ticket = {"id": raw["id"], **copy.deepcopy(TICKET_DEFAULTS), **copy.deepcopy(raw)}
                ticket.pop("url", None)
                self.tickets[ticket["id"]] = ticket
            self.comments: dict[int, list[dict[str, Any]]] = {
                int(ticket_id): [self._comment_defaults(comment) for comment in thread]
                for ticket_id, thread in copy.deepcopy(self._seed["comments"]).items()
            }
            for ticket_id in self.tickets:
                self.comments.setdefault(ticket_id, [])
            self.labels: dict[int, dict[str, str]] = {
                int(ticket_id): label for ticket_id, label in self._seed.get("labels", {}).items()
            }
            self.audits: dict[int, list[dict[str, Any]]] = {}
            self.calls: list[RecordedCall] = []
            self.jobs: dict[str, _Job] = {}
            self.events: list[dict[str, Any]] = []
            self.webhooks: list[WebhookSubscription] = []
            self.webhook_attempts: list[WebhookAttempt] = []
            self._invocation_ids = itertools.count(8_000_000_001)
            self._webhook_ids = itertools.count(1)
            self._indexed_at: dict[int, float] = {}
            self._faults: deque[_Fault] = deque()
            self._window: deque[float] = deque()
            self._endpoint_windows: dict[str, deque[float]] = {}
            all_comment_ids = [c["id"] for thread in self.comments.values() for c in thread]
            self._comment_ids = itertools.count(max(all_comment_ids, default=40000000000) + 1)
            self._audit_ids = itertools.count(50000000001)
            self._event_ids = itertools.count(60000000001)
            self._ticket_ids = itertools.count(max(self.tickets, default=0) + 1)
            self._job_seq = itertools.count(1)
            self._request_seq = itertools.count(1)

    @property
    def me(self) -> dict[str, Any]:
        """The authenticated user: the seed's admin, with the configured email and role."""
        admins = [user for user in self.users.values() if user.get("role") == "admin"]
        base = admins[0] if admins else {"id": 360000000001, "name": "Triage Bot"}
        return {
            "id": base["id"],
            "url": f"{self.base_url}/api/v2/users/{base['id']}.json",
            "name": base["name"],
            "email": self.email,
            "role": self.role,
            "active": True,
            "time_zone": "UTC",
            "locale": "en-US",
        }

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        """A copy of one stored ticket (KeyError if absent)."""
        with self._lock:
            return self._render_ticket(self.tickets[ticket_id], self.base_url)

    def ticket_comments(self, ticket_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.comments.get(ticket_id, []))

    def calls_matching(
        self, *, method: str | None = None, path_contains: str | None = None
    ) -> list[RecordedCall]:
        with self._lock:
            return [
                call
                for call in self.calls
                if (method is None or call.method == method.upper())
                and (path_contains is None or path_contains in call.path)
            ]

    def create_ticket(self, subject: str, body: str, **fields: Any) -> dict[str, Any]:
        """Create a ticket as if a customer wrote in; returns the ticket as the API shows it."""
        with self._lock:
            ticket = self._create_ticket_locked(subject, body, fields, via="web")
            return self._render_ticket(ticket, self.base_url)

    # --- webhooks ------------------------------------------------------------------------

    def add_webhook(
        self,
        url: str,
        secret: str,
        *,
        events: tuple[str, ...] | list[str] = ("ticket.created",),
        payload: str = "trigger",
        body_template: dict[str, Any] | None = None,
        duplicates: int = 0,
        duplicate_mode: str = "retry",
        timeout_s: float = 5.0,
    ) -> WebhookSubscription:
        """Send signed webhooks to `url` for `events` from now on (see WebhookSubscription)."""
        if payload not in {"trigger", "event"}:
            raise ValueError("payload is 'trigger' or 'event'")
        if duplicate_mode not in {"retry", "new_invocation"}:
            raise ValueError("duplicate_mode is 'retry' or 'new_invocation'")
        with self._lock:
            subscription = WebhookSubscription(
                url=url,
                secret=secret,
                id=f"01SIMWEBHOOK{next(self._webhook_ids):014d}",
                events=tuple(events),
                payload=payload,
                body_template=copy.deepcopy(body_template or {"ticket_id": "{{ticket.id}}"}),
                duplicates=duplicates,
                duplicate_mode=duplicate_mode,
                timeout_s=timeout_s,
            )
            self.webhooks.append(subscription)
            return subscription

    def remove_webhooks(self) -> None:
        with self._lock:
            self.webhooks = []

    def webhook_log(self) -> list[WebhookAttempt]:
        """Every webhook request sent so far (finished ones), oldest first."""
        with self._lock:
            return list(self.webhook_attempts)

    def wait_for_webhooks(self, count: int, timeout_s: float = 10.0) -> list[WebhookAttempt]:
        """Block until at least `count` webhook requests have been answered (or failed)."""
        deadline = time.monotonic() + timeout_s
        while True:
            attempts = self.webhook_log()
            if len(attempts) >= count:
                return attempts
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(attempts)} of {count} webhook requests sent")
            time.sleep(0.01)

    def close(self) -> None:
        """Stop the webhook sender threads (pending deliveries are still sent)."""
        with self._lock:
            pool, http = self._webhook_pool, self._webhook_http
            self._webhook_pool = self._webhook_http = None
        if pool is not None:
            pool.shutdown(wait=True)
        if http is not None:
            http.close()

    def _webhook_bodies(
        self, subscription: WebhookSubscription, event_type: str, ticket: dict[str, Any]
    ) -> list[tuple[str, Any]]:
        """(event type, JSON body) of each request one ticket event sends to a webhook."""
        if subscription.payload == "trigger":
            return [(event_type, _render_placeholders(subscription.body_template, ticket))]
        if event_type == "ticket.created":
            names = ["ticket.created"]
        else:
            names = [name for name in ticket.get("_changes", []) if subscription.wants(name)]
        return [(name, self._event_body(name, ticket)) for name in names]

    def _event_body(self, event_type: str, ticket: dict[str, Any]) -> dict[str, Any]:
        actor = ticket.get("requester_id") if event_type == "ticket.created" else self.me["id"]
        detail = {
            "actor_id": _id_string(actor),
            "assignee_id": _id_string(ticket.get("assignee_id")),
            "brand_id": _id_string(ticket.get("brand_id")),
            "created_at": ticket["created_at"],
            "description": ticket.get("description", ""),
            "external_id": ticket.get("external_id"),
            "form_id": None,
            "group_id": _id_string(ticket.get("group_id")),
            "id": str(ticket["id"]),
            "is_public": ticket.get("is_public", True),
            "organization_id": _id_string(ticket.get("organization_id")),
            "priority": (ticket.get("priority") or "").upper() or None,
            "requester_id": _id_string(ticket.get("requester_id")),
            "status": (ticket.get("status") or "").upper(),
            "subject": ticket.get("subject", ""),
            "submitter_id": _id_string(ticket.get("submitter_id")),
            "tags": list(ticket.get("tags", [])),
            "type": (ticket.get("type") or "").upper() or None,
            "updated_at": ticket["updated_at"],
            "via": {"channel": (ticket.get("via") or {}).get("channel", "web")},
        }
        sequence = {"id": uuid.uuid4().hex.upper(), "position": 1, "total": 1}
        return {
            "type": f"zen:event-type:{event_type}",
            "account_id": ACCOUNT_ID,
            "id": str(uuid.uuid4()),
            "time": iso_utc(_utcnow()),
            "zendesk_event_version": WEBHOOK_EVENT_VERSION,
            "subject": f"zen:ticket:{ticket['id']}",
            "detail": detail,
            "event": {"meta": {"sequence": sequence}},
        }

    def _queue_webhooks(self, event_type: str, ticket: dict[str, Any]) -> None:
        """Called under the lock: render what each matching webhook sends and queue it."""
        for subscription in self.webhooks:
            # An event subscription picks the specific change events of an update itself.
            if not subscription.wants(event_type) and not (
                subscription.payload == "event" and event_type == "ticket.updated"
            ):
                continue
            for name, body in self._webhook_bodies(subscription, event_type, ticket):
                invocations = [str(next(self._invocation_ids))]
                for _ in range(subscription.duplicates):
                    if subscription.duplicate_mode == "retry":
                        invocations.append(invocations[0])
                    else:
                        invocations.append(str(next(self._invocation_ids)))
                if self._webhook_pool is None:
                    self._webhook_pool = ThreadPoolExecutor(
                        max_workers=8, thread_name_prefix="sim-webhook"
                    )
                    self._webhook_http = httpx.Client(
                        headers={"User-Agent": "Zendesk Webhook"}, follow_redirects=False
                    )
                raw = json.dumps(body, separators=(",", ":")).encode()
                for invocation_id in invocations:
                    self._webhook_pool.submit(
                        self._deliver,
                        subscription,
                        invocation_id,
                        name,
                        int(ticket["id"]),
                        body,
                        raw,
                        self._generation,
                    )

    def _deliver(
        self,
        subscription: WebhookSubscription,
        invocation_id: str,
        event_type: str,
        ticket_id: int,
        body: Any,
        raw_body: bytes,
        generation: int,
    ) -> None:
        """Send one delivery (in a sender thread), retrying as Zendesk does on 409, 429, 5xx
        and connection failures; every attempt is signed afresh with the current time."""
        http = self._webhook_http
        for attempt in range(WEBHOOK_MAX_RETRIES + 1):
            if generation != self._generation or http is None:
                return
            timestamp = iso_utc(_utcnow())
            headers = {
                "Content-Type": "application/json",
                "X-Zendesk-Account-Id": str(ACCOUNT_ID),
                "X-Zendesk-Webhook-Id": subscription.id,
                "X-Zendesk-Webhook-Invocation-Id": invocation_id,
                "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
                "X-Zendesk-Webhook-Signature": sign_webhook(
                    subscription.secret, timestamp, raw_body
                ),
            }
            record = WebhookAttempt(
                webhook_id=subscription.id,
                invocation_id=invocation_id,
                event_type=event_type,
                ticket_id=ticket_id,
                attempt=attempt,
                body=body,
                sent_at=time.time(),
            )
            started = time.perf_counter()
            retry_after: float | None = None
            try:
                response = http.post(
                    subscription.url,
                    content=raw_body,
                    headers=headers,
                    timeout=subscription.timeout_s,
                )
            except httpx.HTTPError as exc:
                record.error = f"{type(exc).__name__}: {exc}"
                retryable = True
            else:
                record.status_code = response.status_code
                retryable = response.status_code in WEBHOOK_RETRY_STATUSES
                try:
                    retry_after = float(response.headers.get("Retry-After", ""))
                except ValueError:
                    retry_after = None
            record.duration_ms = (time.perf_counter() - started) * 1000
            with self._lock:
                if generation == self._generation:
                    self.webhook_attempts.append(record)
            if not retryable or attempt == WEBHOOK_MAX_RETRIES:
                return
            time.sleep(min(retry_after if retry_after is not None else 0.05 * 2**attempt, 2.0))

    # --- fault injection -----------------------------------------------------------------

    def fail_next(
        self,
        n: int,
        status: int,
        retry_after: float | None = None,
        *,
        path_contains: str | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `n` requests (optionally only those whose path contains a string)
        with `status`; 429 gets the real plain-text body and `Retry-After` when given."""
        with self._lock:
            for _ in range(n):
                self._faults.append(_Fault(status, retry_after, path_contains, None, body))

    def hang_next(
        self, n: int, hang_s: float | None = None, *, path_contains: str | None = None
    ) -> None:
        """Stall the next `n` requests for `hang_s` (default `self.hang_s`), then answer them
        normally: the client sees a timeout, the server still applies the change."""
        with self._lock:
            for _ in range(n):
                self._faults.append(_Fault(None, None, path_contains, hang_s or self.hang_s))

    def _pop_fault(self, path: str) -> _Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.path_contains is None or fault.path_contains in path:
                del self._faults[index]
                return fault
        return None

    # --- request pipeline ----------------------------------------------------------------

    async def dispatch(
        self, request: Request, name: str, handler: Callable[[_Context], Any]
    ) -> Response:
        raw_body = await request.body()
        body: Any = None
        body_error = False
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body_error = True
        query = dict(request.query_params)
        auth_header = request.headers.get("authorization", "")
        call = RecordedCall(
            method=request.method,
            path=request.url.path,
            query=query,
            json=body,
            time=time.time(),
            auth_scheme=auth_header.split(" ", 1)[0].lower() or None,
        )
        with self._lock:
            self.calls.append(call)
            generation = self._generation
            fault = self._pop_fault(request.url.path)
            request_id = f"sim-{next(self._request_seq):08d}"
        response = await self._process(
            request, name, handler, query, body, body_error, auth_header, fault, generation
        )
        with self._lock:
            response.headers.update(self._rate_headers())
        response.headers["X-Zendesk-Request-Id"] = request_id
        call.status = response.status_code
        return response

    async def _process(
        self,
        request: Request,
        name: str,
        handler: Callable[[_Context], Any],
        query: dict[str, str],
        body: Any,
        body_error: bool,
        auth_header: str,
        fault: _Fault | None,
        generation: int,
    ) -> Response:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        if fault is not None:
            if fault.hang_s is not None:
                await asyncio.sleep(fault.hang_s)
            else:
                return _fault_response(fault)
        if not self._authenticated(auth_header):
            return JSONResponse(NOT_AUTHENTICATED, status_code=401)
        with self._lock:
            retry_after = self._admit(name)
            draw_5xx = self._rng.random() if self.fault_5xx_rate > 0 else 1.0
            draw_hang = self._rng.random() if self.timeout_rate > 0 else 1.0
        if retry_after is not None:
            return _too_many_requests(retry_after)
        if draw_5xx < self.fault_5xx_rate:
            return _fault_response(_Fault(503))
        if draw_hang < self.timeout_rate:
            await asyncio.sleep(self.hang_s)
        if body_error:
            return JSONResponse(
                {"error": "InvalidJSON", "description": "The request body is not valid JSON"},
                status_code=400,
            )
        root_path = request.scope.get("root_path", "")
        context = _Context(
            method=request.method,
            path_params=dict(request.path_params),
            query=query,
            body=body,
            # Where this app is mounted counts (the built-in sandbox: /sandbox/zendesk), so
            # the URLs it returns can be followed: base_url ends with the mount, path is
            # what follows it.
            base_url=f"{request.url.scheme}://{request.url.netloc}{root_path}".rstrip("/"),
            path=request.url.path.removeprefix(root_path),
        )
        with self._lock:
            if generation != self._generation:
                return _fault_response(_Fault(503))
            self._advance_jobs()
            try:
                result = handler(context)
            except HttpError as error:
                return JSONResponse(error.payload, error.status_code, headers=error.headers)
        if isinstance(result, Response):
            return result
        status_code, payload = result if isinstance(result, tuple) else (200, result)
        # ASCII-escaped, as Zendesk's JSON may carry text Python cannot encode (lone surrogates).
        body = json.dumps(payload, separators=(",", ":")).encode()
        return Response(body, status_code, media_type="application/json")

    def _authenticated(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self.oauth_token:
            return hmac.compare_digest(value.strip().encode(), self.oauth_token.encode())
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, _, secret = decoded.partition(":")
            expected_user = f"{self.email}/token".lower()
            return hmac.compare_digest(user.lower().encode(), expected_user.encode()) and (
                hmac.compare_digest(secret.encode(), self.api_token.encode())
            )
        return False

    def _admit(self, name: str) -> float | None:
        """Count the request in the sliding minute; the Retry-After seconds when over."""
        now = time.monotonic()
        windows: list[tuple[deque[float], int | None]] = [
            (self._window, self.rate_limit_per_minute)
        ]
        if name in self.endpoint_limits:
            endpoint_window = self._endpoint_windows.setdefault(name, deque())
            windows.append((endpoint_window, self.endpoint_limits[name]))
        for window, limit in windows:
            while window and window[0] <= now - WINDOW_S:
                window.popleft()
            if limit is not None and len(window) >= limit:
                return max(1.0, math.ceil(window[0] + WINDOW_S - now))
        for window, _ in windows:
            window.append(now)
        return None

    def _rate_headers(self) -> dict[str, str]:
        now = time.monotonic()
        while self._window and self._window[0] <= now - WINDOW_S:
            self._window.popleft()
        limit = self.rate_limit_per_minute or NOMINAL_RATE_LIMIT
        remaining = max(0, limit - len(self._window))
        reset_s = math.ceil(self._window[0] + WINDOW_S - now) if self._window else 0
        return {
            "X-Rate-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(max(0, reset_s)),
        }

    # --- rendering -----------------------------------------------------------------------

    @staticmethod
    def _render_ticket(ticket: dict[str, Any], base_url: str) -> dict[str, Any]:
        rendered = {
            "id": ticket["id"],
            "url": f"{base_url}/api/v2/tickets/{ticket['id']}.json",
            **copy.deepcopy(ticket),
        }
        rendered["fields"] = copy.deepcopy(ticket.get("custom_fields", []))
        return rendered

    @staticmethod
    def _comment_defaults(comment: dict[str, Any]) -> dict[str, Any]:
        body = comment.get("body", "")
        paragraphs = "".join(f"<p>{line}</p>" for line in body.split("\n\n"))
        return {
            "id": comment["id"],
            "type": "Comment",
            "author_id": comment.get("author_id"),
            "body": body,
            "html_body": comment.get("html_body") or f'<div class="zd-comment">{paragraphs}</div>',
            "plain_body": body,
            "public": comment.get("public", True),
            "attachments": [],
            "audit_id": comment.get("audit_id"),
            "via": comment.get("via", {"channel": "api"}),
            "created_at": comment["created_at"],
            "metadata": {"system": {}, "custom": {}},
        }

    def _job_payload(self, job: _Job, base_url: str) -> dict[str, Any]:
        progress = {"queued": None, "working": 0}.get(job.status, job.total)
        message = None
        if job.status == "completed" and job.completed_at is not None:
            message = f"Completed at {iso_utc(job.completed_at)}"
        return {
            "id": job.id,
            "url": f"{base_url}/api/v2/job_statuses/{job.id}.json",
            "job_type": "bulk_update",
            "status": job.status,
            "total": job.total,
            "progress": progress,
            "message": message,
            "results": copy.deepcopy(job.results),
        }

    # --- ticket changes ------------------------------------------------------------------

    def _emit(self, event_type: str, ticket_id: int, changes: list[str] | None = None) -> None:
        """Outgoing notifications: every create and update lands here and fires the webhooks
        that want it (`changes`: the event types of an update, e.g. ticket.tags_changed)."""
        self.events.append({"type": event_type, "ticket_id": ticket_id, "time": iso_utc(_utcnow())})
        if self.webhooks:
            ticket = {**copy.deepcopy(self.tickets[ticket_id]), "_changes": list(changes or [])}
            self._queue_webhooks(event_type, ticket)

    def _new_comment(
        self, body: str, *, public: bool, author_id: int | None, audit_id: int | None, via: str
    ) -> dict[str, Any]:
        return self._comment_defaults(
            {
                "id": next(self._comment_ids),
                "author_id": author_id,
                "body": body,
                "public": public,
                "audit_id": audit_id,
                "via": {"channel": via},
                "created_at": iso_utc(_utcnow()),
            }
        )

    def _create_ticket_locked(
        self, subject: str, body: str, fields: dict[str, Any], *, via: str
    ) -> dict[str, Any]:
        now = iso_utc(_utcnow())
        ticket_id = next(self._ticket_ids)
        requester_id = fields.pop("requester_id", None) or self._default_requester_id()
        tags = normalize_tags(fields.pop("tags", []))
        ticket = {
            "id": ticket_id,
            **copy.deepcopy(TICKET_DEFAULTS),
            "via": {"channel": via},
            "subject": subject,
            "raw_subject": subject,
            "description": body,
            "requester_id": requester_id,
            "submitter_id": requester_id,
            "tags": tags,
            "created_at": now,
            "updated_at": now,
            **fields,
        }
        self.tickets[ticket_id] = ticket
        audit_id = next(self._audit_ids)
        comment = self._new_comment(
            body, public=True, author_id=requester_id, audit_id=audit_id, via=via
        )
        self.comments[ticket_id] = [comment]
        self.audits[ticket_id] = [
            {
                "id": audit_id,
                "ticket_id": ticket_id,
                "created_at": now,
                "author_id": requester_id,
                "via": {"channel": via},
                "events": [{**comment, "type": "Comment"}],
            }
        ]
        self._indexed_at[ticket_id] = time.monotonic() + self.search_index_delay_s
        self._emit("ticket.created", ticket_id)
        return ticket

    def _default_requester_id(self) -> int:
        end_users = [uid for uid, user in self.users.items() if user.get("role") == "end-user"]
        return end_users[0] if end_users else 361000000001

    def _apply_update(
        self, ticket_id: int, changes: Any, *, allow_additional_tags: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Validate and apply one ticket update; returns (ticket, audit) or raises HttpError."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise HttpError(404, NOT_FOUND)
        if not isinstance(changes, dict):
            raise HttpError(422, _record_invalid(_detail("ticket", "Ticket: must be an object")))
        if changes.get("safe_update") and changes.get("updated_stamp") != ticket["updated_at"]:
            raise HttpError(409, _update_conflict())
        if ticket["status"] == "closed":
            raise HttpError(
                422,
                _record_invalid(
                    _detail("status", "Status: closed prevents ticket update", "ClosedTicket")
                ),
            )
        details: dict[str, list[dict[str, str]]] = {}
        updates: dict[str, Any] = {}
        for name, allowed in (
            ("status", STATUS_ORDER),
            ("priority", (*PRIORITY_ORDER, None)),
            ("type", (*TICKET_TYPES, None)),
        ):
            if name in changes:
                if changes[name] not in allowed:
                    label = name.capitalize()
                    details.update(_detail(name, f"{label}: {changes[name]!r} is not valid"))
                else:
                    updates[name] = changes[name]
        if "subject" in changes:
            if not isinstance(changes["subject"], str) or not changes["subject"].strip():
                details.update(_detail("subject", "Subject: cannot be blank", "BlankValue"))
            else:
                updates["subject"] = changes["subject"]
                updates["raw_subject"] = changes["subject"]
        for name in ("assignee_id", "group_id", "requester_id"):
            if name in changes:
                if changes[name] is not None and not isinstance(changes[name], int):
                    details.update(_detail(name, f"{name}: must be an integer"))
                else:
                    updates[name] = changes[name]
        new_tags = list(ticket["tags"])
        try:
            if "tags" in changes:
                new_tags = normalize_tags(changes["tags"])
            if allow_additional_tags:
                for tag in normalize_tags(changes.get("additional_tags", [])):
                    if tag not in new_tags:
                        new_tags.append(tag)
                removed = set(normalize_tags(changes.get("remove_tags", [])))
                new_tags = [tag for tag in new_tags if tag not in removed]
        except HttpError as error:
            details.update(error.payload["details"])
        if new_tags != ticket["tags"]:
            updates["tags"] = new_tags
        if "custom_fields" in changes:
            merged = self._merge_custom_fields(ticket, changes["custom_fields"], details)
            if merged is not None:
                updates["custom_fields"] = merged
        comment_body, comment_public = None, True
        if "comment" in changes:
            comment = changes["comment"]
            if isinstance(comment, str):
                comment = {"body": comment}
            if not isinstance(comment, dict):
                details.update(_detail("comment", "Comment: must be an object"))
            else:
                text = comment.get("body") or comment.get("html_body")
                if not isinstance(text, str) or not text.strip():
                    details.update(_detail("comment", "Comment: cannot be blank", "BlankValue"))
                else:
                    comment_body = text
                    comment_public = comment.get("public", True) is not False
        if details:
            raise HttpError(422, _record_invalid(details))

        now = iso_utc(_utcnow())
        audit_id = next(self._audit_ids)
        events: list[dict[str, Any]] = []
        for name, value in updates.items():
            if name == "raw_subject" or ticket.get(name) == value:
                continue
            events.append(
                {
                    "id": next(self._event_ids),
                    "type": "Change",
                    "field_name": name,
                    "value": copy.deepcopy(value),
                    "previous_value": copy.deepcopy(ticket.get(name)),
                }
            )
            ticket[name] = value
        if comment_body is not None:
            comment = self._new_comment(
                comment_body,
                public=comment_public,
                author_id=self.me["id"],
                audit_id=audit_id,
                via="api",
            )
            self.comments.setdefault(ticket_id, []).append(comment)
            events.insert(0, {**comment, "type": "Comment"})
            if comment_public:
                ticket["is_public"] = True
        if events:
            ticket["updated_at"] = now
        audit = {
            "id": audit_id,
            "ticket_id": ticket_id,
            "created_at": now,
            "author_id": self.me["id"],
            "via": {"channel": "api"},
            "metadata": {"system": {}, "custom": {}},
            "events": events,
        }
        self.audits.setdefault(ticket_id, []).append(audit)
        if events:
            changes = [
                CHANGE_EVENT_TYPES.get(
                    "comment" if event["type"] == "Comment" else event["field_name"],
                    f"ticket.{event.get('field_name', 'comment')}_changed",
                )
                for event in events
            ]
            self._emit("ticket.updated", ticket_id, changes)
        return ticket, audit

    @staticmethod
    def _merge_custom_fields(
        ticket: dict[str, Any], value: Any, details: dict[str, list[dict[str, str]]]
    ) -> list[dict[str, Any]] | None:
        if not isinstance(value, list) or not all(
            isinstance(item, dict) and isinstance(item.get("id"), int) for item in value
        ):
            details.update(_detail("custom_fields", "Custom fields: must be [{id, value}]"))
            return None
        merged = {item["id"]: item.get("value") for item in ticket.get("custom_fields", [])}
        for item in value:
            merged[item["id"]] = item.get("value")
        return [{"id": field_id, "value": field_value} for field_id, field_value in merged.items()]

    # --- jobs ----------------------------------------------------------------------------

    def _create_job(self, operations: list[tuple[int, dict[str, Any], str]]) -> _Job:
        pending = [job for job in self.jobs.values() if job.status in {"queued", "working"}]
        if len(pending) >= MAX_QUEUED_JOBS:
            raise HttpError(
                429,
                {
                    "error": "TooManyJobs",
                    "description": f"Number of allowed queued jobs ({MAX_QUEUED_JOBS}) exceeded",
                },
            )
        digest = hashlib.md5(
            f"{self.random_seed}-{self._generation}-{next(self._job_seq)}".encode(),
            usedforsecurity=False,
        )
        job = _Job(
            id=digest.hexdigest(),
            created=time.monotonic(),
            total=len(operations),
            operations=operations,
        )
        self.jobs[job.id] = job
        timer = threading.Timer(self.job_delay_s + 0.001, self._advance_jobs_safely)
        timer.daemon = True
        timer.start()
        return job

    def _advance_jobs_safely(self) -> None:
        with self._lock:
            self._advance_jobs()

    def _advance_jobs(self) -> None:
        now = time.monotonic()
        for job in self.jobs.values():
            if job.status == "completed":
                continue
            elapsed = now - job.created
            if elapsed >= self.job_delay_s:
                self._run_job(job)
            elif elapsed >= self.job_delay_s / 2:
                job.status = "working"

    def _run_job(self, job: _Job) -> None:
        results: list[dict[str, Any]] = []
        for index, (ticket_id, changes, form) in enumerate(job.operations):
            allow = form == "bulk" or self.accept_undocumented_additional_tags
            try:
                self._apply_update(ticket_id, changes, allow_additional_tags=allow)
            except HttpError as error:
                code = error.payload.get("error", "Error")
                if code == "RecordNotFound":
                    code = "TicketNotFound"
                results.append(
                    {
                        "index": index,
                        "id": ticket_id,
                        "action": "update",
                        "success": False,
                        "status": "Failed",
                        "error": code,
                        "details": error.payload.get("description", ""),
                    }
                )
            else:
                results.append(
                    {
                        "index": index,
                        "id": ticket_id,
                        "action": "update",
                        "success": True,
                        "status": "Updated",
                    }
                )
        job.results = results
        job.status = "completed"
        job.completed_at = _utcnow()

    # --- search --------------------------------------------------------------------------

    def _searchable(self, ticket_id: int) -> bool:
        return self._indexed_at.get(ticket_id, 0.0) <= time.monotonic()

    def _search(self, query: str, *, object_type: str | None = None) -> list[dict[str, Any]]:
        parsed = _SearchQuery.parse(query)
        if object_type is not None:
            parsed.object_types.add(object_type)
        if parsed.object_types and parsed.object_types != {"ticket"}:
            return []
        hits = [
            ticket
            for ticket_id, ticket in self.tickets.items()
            if self._searchable(ticket_id)
            and parsed.matches(ticket, self.comments.get(ticket_id, []), self.users)
        ]
        return parsed.sort(hits)


_PLACEHOLDER_RE = re.compile(r"\{\{\s*ticket\.(\w+)\s*\}\}")


def _render_placeholders(template: Any, ticket: dict[str, Any]) -> Any:
    """A trigger's JSON body with `{{ticket.id}}`-style placeholders filled in as text."""
    if isinstance(template, dict):
        return {key: _render_placeholders(value, ticket) for key, value in template.items()}
    if isinstance(template, list):
        return [_render_placeholders(value, ticket) for value in template]
    if not isinstance(template, str):
        return template

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in {"created_at_with_timestamp", "updated_at_with_timestamp"}:
            return str(ticket.get(name.removesuffix("_with_timestamp"), ""))
        if name == "title":
            name = "subject"
        if name == "tags":
            return " ".join(ticket.get("tags", []))
        found = ticket.get(name)
        return "" if found is None else str(found)

    return _PLACEHOLDER_RE.sub(value, template)


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


# --- search query language ---------------------------------------------------------------

_TOKEN_RE = re.compile(r'-?[\w.]+(?::|<=|>=|<|>)"[^"]*"|-?[\w.]+(?::|<=|>=|<|>)\S+|-?"[^"]*"|\S+')
_FILTER_RE = re.compile(r"^(-?)([\w.]+)(:|<=|>=|<|>)(.*)$")
_RELATIVE_RE = re.compile(r"^(\d+)(minute|hour|day|week|month|year)s?$")
_RELATIVE_UNITS = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}
_ORDERED_FIELDS = {"status": STATUS_ORDER, "priority": PRIORITY_ORDER}
_EQUALITY_FIELDS = {
    "tags": "tags",
    "tag": "tags",
    "ticket_type": "type",
    "assignee": "assignee_id",
    "assignee_id": "assignee_id",
    "group": "group_id",
    "group_id": "group_id",
    "requester": "requester_id",
    "requester_id": "requester_id",
    "id": "id",
}
_DATE_FIELDS = {"created": "created_at", "updated": "updated_at"}
_SORT_FIELDS = {"created_at", "updated_at", "priority", "status", "ticket_type"}


@dataclass
class _SearchQuery:
    object_types: set[str] = field(default_factory=set)
    any_of: dict[str, list[Callable[[dict[str, Any]], bool]]] = field(default_factory=dict)
    all_of: list[Callable[[dict[str, Any], str, set[str]], bool]] = field(default_factory=list)
    order_by: str | None = None
    descending: bool = True

    @classmethod
    def parse(cls, query: str) -> _SearchQuery:
        parsed = cls()
        for token in _TOKEN_RE.findall(query):
            match = _FILTER_RE.match(token)
            if match and not token.startswith('"'):
                negate, key, op, value = match.groups()
                key = key.lower()
                value = value.strip('"')
                if parsed._add_filter(key, op, value, negate == "-"):
                    continue
            parsed._add_text(token)
        return parsed

    def _add_filter(self, key: str, op: str, value: str, negate: bool) -> bool:
        if key == "type" and op == ":":
            if value.lower() in TICKET_TYPES:  # `type:incident` also means ticket type
                return self._add_filter("ticket_type", op, value, negate)
            self.object_types.add(value.lower())
            return True
        if key == "order_by" and op == ":":
            self.order_by = value if value in _SORT_FIELDS else None
            return True
        if key == "sort" and op == ":":
            self.descending = value.lower() != "asc"
            return True
        if key in _ORDERED_FIELDS:
            order = _ORDERED_FIELDS[key]
            if value.lower() not in order:
                self._add_predicate(key, lambda _t: False, negate)
                return True
            rank = order.index(value.lower())
            compare = _comparison(op)
            self._add_predicate(
                key,
                lambda t, key=key, order=order: (
                    t.get(key) in order and compare(order.index(t[key]), rank)
                ),
                negate,
            )
            return True
        if key in _EQUALITY_FIELDS and op == ":":
            attribute = _EQUALITY_FIELDS[key]
            expected: Any = value.lower()
            if attribute == "tags":
                self._add_predicate(key, lambda t, tag=expected: tag in t["tags"], negate)
            elif expected == "none":
                self._add_predicate(key, lambda t, a=attribute: t.get(a) is None, negate)
            elif attribute == "type":
                self._add_predicate(key, lambda t, v=expected: t.get("type") == v, negate)
            else:
                self._add_predicate(
                    key, lambda t, a=attribute, v=expected: str(t.get(a)) == v, negate
                )
            return True
        if key in _DATE_FIELDS:
            predicate = _date_predicate(_DATE_FIELDS[key], op, value)
            if predicate is None:
                return False
            self._add_predicate(key, predicate, negate)
            return True
        if key in {"subject", "description"} and op == ":":
            words = _words(value)
            self.all_of.append(
                lambda t, _text, _words_, k=key, w=words, n=negate: (
                    (w <= _words(str(t.get(k) or ""))) != n
                )
            )
            return True
        return False

    def _add_predicate(
        self, key: str, predicate: Callable[[dict[str, Any]], bool], negate: bool
    ) -> None:
        if negate:
            self.all_of.append(lambda t, _text, _words_, p=predicate: not p(t))
        else:
            self.any_of.setdefault(key, []).append(predicate)

    def _add_text(self, token: str) -> None:
        negate = token.startswith("-") and len(token) > 1
        term = token[1:] if negate else token
        if term.startswith('"') and term.endswith('"') and len(term) >= 2:
            phrase = term[1:-1].lower()
            self.all_of.append(lambda _t, text, _w, p=phrase, n=negate: (p in text) != n)
            return
        for word in _words(term):
            if term.endswith("*"):
                self.all_of.append(
                    lambda _t, _text, words, w=word, n=negate: (
                        any(candidate.startswith(w) for candidate in words) != n
                    )
                )
            else:
                self.all_of.append(lambda _t, _text, words, w=word, n=negate: (w in words) != n)

    def matches(
        self,
        ticket: dict[str, Any],
        comments: list[dict[str, Any]],
        users: dict[int, dict[str, Any]],
    ) -> bool:
        for predicates in self.any_of.values():
            if not any(predicate(ticket) for predicate in predicates):
                return False
        if not self.all_of:
            return True
        parts = [ticket.get("subject") or "", *(comment["body"] for comment in comments)]
        text = "\n".join(parts).lower()
        words = _words(text)
        return all(predicate(ticket, text, words) for predicate in self.all_of)

    def sort(self, tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        order_by = self.order_by or "updated_at"

        def key(ticket: dict[str, Any]) -> tuple[Any, int]:
            if order_by == "priority":
                value: Any = PRIORITY_ORDER.index(ticket["priority"]) if ticket["priority"] else -1
            elif order_by == "status":
                value = STATUS_ORDER.index(ticket["status"])
            elif order_by == "ticket_type":
                value = ticket.get("type") or ""
            else:
                value = ticket[order_by]
            return value, ticket["id"]

        return sorted(tickets, key=key, reverse=self.descending)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _comparison(op: str) -> Callable[[Any, Any], bool]:
    return {
        ":": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }[op]


def _date_predicate(attribute: str, op: str, value: str) -> Callable[[dict[str, Any]], bool] | None:
    relative = _RELATIVE_RE.match(value.lower())
    if relative:
        moment = _utcnow() - int(relative.group(1)) * _RELATIVE_UNITS[relative.group(2)]
        # `created>4hours`: newer than four hours ago; `created<4hours`: older.
        compare = _comparison(op if op != ":" else ">=")
        return lambda t: compare(parse_iso(t[attribute]), moment)
    try:
        if len(value) == 10:
            day_start = datetime.fromisoformat(value).replace(tzinfo=UTC)
            day_end = day_start + timedelta(days=1)
            bounds = {
                ":": lambda m: day_start <= m < day_end,
                ">": lambda m: m >= day_end,
                ">=": lambda m: m >= day_start,
                "<": lambda m: m < day_start,
                "<=": lambda m: m < day_end,
            }[op]
            return lambda t: bounds(parse_iso(t[attribute]))
        moment = parse_iso(value)
    except ValueError:
        return None
    compare = _comparison(op)
    return lambda t: compare(parse_iso(t[attribute]), moment)


# --- handlers ----------------------------------------------------------------------------


def _int_param(query: dict[str, str], name: str, default: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise HttpError(400, _invalid_pagination(f"{name} must be an integer")) from exc
    if value < 1:
        raise HttpError(400, _invalid_pagination(f"{name} must be positive"))
    if value > maximum:
        raise HttpError(400, _invalid_pagination(f"{name} must be less than or equal to {maximum}"))
    return value


def _parse_ids(query: dict[str, str]) -> list[int]:
    raw = query.get("ids")
    if not raw:
        raise HttpError(400, {"error": "InvalidValue", "description": "ids parameter is required"})
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise HttpError(
            400, {"error": "InvalidValue", "description": "ids must be comma-separated integers"}
        ) from exc
    if len(ids) > MAX_IDS:
        raise HttpError(
            400,
            {"error": "TooManyValues", "description": f"Too many ids: the maximum is {MAX_IDS}"},
        )
    return ids


def _cursor_page(
    context: _Context,
    items: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], tuple[Any, ...]],
    *,
    max_size: int = MAX_PAGE_SIZE,
    default_size: int = MAX_PAGE_SIZE,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Cursor pagination over `items` (already sorted by `key`): (page, meta, links)."""
    size = _int_param(context.query, "page[size]", default_size, max_size)
    after = context.query.get("page[after]")
    before = context.query.get("page[before]")
    if after:
        after_key = _decode_cursor(after)
        remaining = [item for item in items if list(key(item)) > list(after_key)]
        page, has_more = remaining[:size], len(remaining) > size
    elif before:
        before_key = _decode_cursor(before)
        preceding = [item for item in items if list(key(item)) < list(before_key)]
        page, has_more = preceding[-size:], len(preceding) > size
    else:
        page, has_more = items[:size], len(items) > size
    after_cursor = _encode_cursor(key(page[-1])) if page else None
    before_cursor = _encode_cursor(key(page[0])) if page else None
    keep = {name: value for name, value in context.query.items() if not name.startswith("page[")}

    def link(cursor_name: str, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        params = {**keep, "page[size]": str(size), cursor_name: cursor}
        return f"{context.base_url}{context.path}?{urlencode(params)}"

    meta = {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor}
    links = {
        "next": link("page[after]", after_cursor) if has_more else None,
        "prev": link("page[before]", before_cursor),
    }
    return page, meta, links


def _offset_page(
    context: _Context, items: list[dict[str, Any]], *, max_per_page: int = MAX_PAGE_SIZE
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    per_page = _int_param(context.query, "per_page", max_per_page, max_per_page)
    page_number = _int_param(context.query, "page", 1, 10**9)
    start = (page_number - 1) * per_page
    page = items[start : start + per_page]

    def link(number: int) -> str:
        params = {**context.query, "page": str(number), "per_page": str(per_page)}
        return f"{context.base_url}{context.path}?{urlencode(params)}"

    more = start + per_page < len(items)
    return page, {
        "next_page": link(page_number + 1) if more else None,
        "previous_page": link(page_number - 1) if page_number > 1 else None,
        "count": len(items),
    }


def _wants_cursor(query: dict[str, str]) -> bool:
    return any(name.startswith("page[") for name in query)


class _Handlers:
    """Endpoint logic; every method runs under the simulator lock."""

    def __init__(self, sim: ZendeskSimulator) -> None:
        self.sim = sim

    def _ticket_or_404(self, ticket_id: int) -> dict[str, Any]:
        ticket = self.sim.tickets.get(ticket_id)
        if ticket is None:
            raise HttpError(404, NOT_FOUND)
        return ticket

    def users_me(self, context: _Context) -> Any:
        user = self.sim.me
        user["url"] = f"{context.base_url}/api/v2/users/{user['id']}.json"
        return {"user": user}

    def show_ticket(self, context: _Context) -> Any:
        ticket = self._ticket_or_404(context.path_params["ticket_id"])
        return {"ticket": self.sim._render_ticket(ticket, context.base_url)}

    def show_many(self, context: _Context) -> Any:
        ids = _parse_ids(context.query)
        tickets = [
            self.sim._render_ticket(self.sim.tickets[ticket_id], context.base_url)
            for ticket_id in dict.fromkeys(ids)
            if ticket_id in self.sim.tickets
        ]
        return {"tickets": tickets, "next_page": None, "previous_page": None, "count": len(tickets)}

    def list_tickets(self, context: _Context) -> Any:
        tickets = [self.sim.tickets[ticket_id] for ticket_id in sorted(self.sim.tickets)]
        if _wants_cursor(context.query):
            page, meta, links = _cursor_page(context, tickets, lambda t: (t["id"],))
            rendered = [self.sim._render_ticket(t, context.base_url) for t in page]
            return {"tickets": rendered, "meta": meta, "links": links}
        page, paging = _offset_page(context, tickets)
        return {"tickets": [self.sim._render_ticket(t, context.base_url) for t in page], **paging}

    def create_ticket(self, context: _Context) -> Any:
        body = context.body if isinstance(context.body, dict) else {}
        data = body.get("ticket")
        if not isinstance(data, dict):
            raise HttpError(422, _record_invalid(_detail("ticket", "Ticket: is required")))
        comment = data.get("comment")
        text = comment.get("body") if isinstance(comment, dict) else comment
        if not isinstance(text, str) or not text.strip():
            raise HttpError(
                422, _record_invalid(_detail("description", "Description: cannot be blank"))
            )
        subject = data.get("subject") or text.strip().splitlines()[0][:80]
        allowed = {"priority", "status", "type", "tags", "requester_id", "assignee_id"}
        fields = {name: data[name] for name in allowed if name in data}
        ticket = self.sim._create_ticket_locked(subject, text, fields, via="api")
        audit = self.sim.audits[ticket["id"]][-1]
        return 201, {
            "ticket": self.sim._render_ticket(ticket, context.base_url),
            "audit": copy.deepcopy(audit),
        }

    def update_ticket(self, context: _Context) -> Any:
        ticket_id = context.path_params["ticket_id"]
        self._ticket_or_404(ticket_id)
        body = context.body
        if not isinstance(body, dict) or not isinstance(body.get("ticket"), dict):
            raise HttpError(
                400,
                {"error": "InvalidEndpoint", "description": 'Expected a body {"ticket": {...}}'},
            )
        ticket, audit = self.sim._apply_update(
            ticket_id,
            body["ticket"],
            allow_additional_tags=self.sim.accept_undocumented_additional_tags,
        )
        return {
            "ticket": self.sim._render_ticket(ticket, context.base_url),
            "audit": copy.deepcopy(audit),
        }

    def comments(self, context: _Context) -> Any:
        ticket_id = context.path_params["ticket_id"]
        self._ticket_or_404(ticket_id)
        thread = self.sim.comments.get(ticket_id, [])
        if context.query.get("sort_order") == "desc":
            thread = list(reversed(thread))
        if _wants_cursor(context.query):
            position = {comment["id"]: index for index, comment in enumerate(thread)}
            page, meta, links = _cursor_page(context, thread, lambda c: (position[c["id"]],))
            return {"comments": copy.deepcopy(page), "meta": meta, "links": links}
        page, paging = _offset_page(context, thread)
        return {"comments": copy.deepcopy(page), **paging}

    def tags(self, context: _Context) -> Any:
        ticket_id = context.path_params["ticket_id"]
        ticket = self._ticket_or_404(ticket_id)
        if context.method == "GET":
            return {"tags": list(ticket["tags"])}
        body = context.body if isinstance(context.body, dict) else {}
        if "tags" not in body:
            raise HttpError(422, _record_invalid(_detail("tags", "Tags: is required")))
        requested = normalize_tags(body["tags"])
        if context.method == "POST":  # Set Tags
            new_tags = requested
        elif context.method == "PUT":  # Add Tags
            new_tags = list(ticket["tags"]) + [t for t in requested if t not in ticket["tags"]]
        else:  # DELETE: Remove Tags
            new_tags = [tag for tag in ticket["tags"] if tag not in requested]
        changes: dict[str, Any] = {"tags": new_tags}
        if body.get("safe_update"):
            changes.update(safe_update=True, updated_stamp=body.get("updated_stamp"))
        ticket, _audit = self.sim._apply_update(ticket_id, changes, allow_additional_tags=False)
        return {"tags": list(ticket["tags"])}

    def update_many(self, context: _Context) -> Any:
        body = context.body if isinstance(context.body, dict) else {}
        operations: list[tuple[int, dict[str, Any], str]] = []
        if "ids" in context.query:
            ids = _parse_ids(context.query)
            changes = body.get("ticket")
            if not isinstance(changes, dict):
                raise HttpError(
                    400,
                    {"error": "InvalidValue", "description": 'Expected a body {"ticket": {...}}'},
                )
            operations = [(ticket_id, copy.deepcopy(changes), "bulk") for ticket_id in ids]
        elif isinstance(body.get("tickets"), list):
            items = body["tickets"]
            if len(items) > MAX_IDS:
                raise HttpError(
                    400,
                    {
                        "error": "TooManyValues",
                        "description": f"Too many tickets: the maximum is {MAX_IDS}",
                    },
                )
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                    raise HttpError(
                        422, _record_invalid(_detail("tickets", "Each ticket needs an id"))
                    )
                changes = {name: value for name, value in item.items() if name != "id"}
                operations.append((item["id"], copy.deepcopy(changes), "batch"))
        else:
            raise HttpError(
                400,
                {
                    "error": "InvalidValue",
                    "description": 'Expected ?ids= with {"ticket": {...}} or {"tickets": [...]}',
                },
            )
        job = self.sim._create_job(operations)
        return {"job_status": self.sim._job_payload(job, context.base_url)}

    # --- webhooks (Admin Center API; event subscriptions, which need no trigger) ---

    def _webhook_or_404(self, webhook_id: str) -> WebhookSubscription:
        for subscription in self.sim.webhooks:
            if subscription.id == webhook_id:
                return subscription
        raise HttpError(404, _webhook_error("RecordNotFound", "Webhook not found"))

    @staticmethod
    def _render_webhook(subscription: WebhookSubscription) -> dict[str, Any]:
        return {
            "id": subscription.id,
            "name": subscription.name,
            "endpoint": subscription.url,
            "http_method": "POST",
            "request_format": "json",
            "status": "active",
            "subscriptions": [f"zen:event-type:{event}" for event in subscription.events],
            "created_at": subscription.created_at,
        }

    def create_webhook(self, context: _Context) -> Any:
        data = context.body.get("webhook") if isinstance(context.body, dict) else None
        if not isinstance(data, dict):
            raise HttpError(400, _webhook_error("InvalidRequest", 'Expected {"webhook": {...}}'))
        endpoint, name = data.get("endpoint"), data.get("name")
        if not isinstance(endpoint, str) or not re.match(r"https?://[^\s/]+", endpoint):
            raise HttpError(
                400, _webhook_error("InvalidEndpoint", "endpoint must be an http(s) URL")
            )
        if not isinstance(name, str) or not name.strip():
            raise HttpError(400, _webhook_error("InvalidName", "name is required"))
        if (
            data.get("http_method", "POST") != "POST"
            or data.get("request_format", "json") != "json"
        ):
            raise HttpError(400, _webhook_error("InvalidValue", "the sandbox sends POST with JSON"))
        events = []
        for value in data.get("subscriptions") or []:
            event = str(value).removeprefix("zen:event-type:")
            if event not in WEBHOOK_ADMIN_EVENTS:
                raise HttpError(
                    400,
                    _webhook_error(
                        "InvalidSubscription",
                        f"the sandbox supports event subscriptions {sorted(WEBHOOK_ADMIN_EVENTS)}"
                        " (triggers are not simulated)",
                    ),
                )
            events.append(event)
        if not events:
            raise HttpError(400, _webhook_error("InvalidSubscription", "subscriptions is required"))
        subscription = self.sim.add_webhook(
            endpoint, secrets.token_urlsafe(32), events=tuple(events), payload="event"
        )
        subscription.name = name.strip()
        subscription.created_at = iso_utc(datetime.now(UTC))
        return 201, {"webhook": self._render_webhook(subscription)}

    def list_webhooks(self, context: _Context) -> Any:
        webhooks = [self._render_webhook(subscription) for subscription in self.sim.webhooks]
        return {"webhooks": webhooks, "meta": {"has_more": False}, "links": {}}

    def webhook(self, context: _Context) -> Any:
        subscription = self._webhook_or_404(context.path_params["webhook_id"])
        if context.method == "DELETE":
            self.sim.webhooks = [w for w in self.sim.webhooks if w is not subscription]
            return Response(status_code=204)
        return {"webhook": self._render_webhook(subscription)}

    def webhook_signing_secret(self, context: _Context) -> Any:
        subscription = self._webhook_or_404(context.path_params["webhook_id"])
        return {"signing_secret": {"algorithm": "SHA256", "secret": subscription.secret}}

    def job_status(self, context: _Context) -> Any:
        job = self.sim.jobs.get(context.path_params["job_id"])
        if job is None:
            raise HttpError(404, NOT_FOUND)
        return {"job_status": self.sim._job_payload(job, context.base_url)}

    def search(self, context: _Context) -> Any:
        query = context.query.get("query", "")
        if not query.strip():
            raise HttpError(
                400, {"error": "InvalidSearchParameter", "description": "query is required"}
            )
        per_page = _int_param(context.query, "per_page", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
        page_number = _int_param(context.query, "page", 1, 10**9)
        if page_number * per_page > SEARCH_RESULT_LIMIT:
            raise HttpError(
                422,
                {
                    "error": "invalid",
                    "description": "Invalid search: Requested response size was greater "
                    "than Search Response Limits",
                },
            )
        hits = self.sim._search(query)
        page, paging = _offset_page(context, hits)
        if page_number * per_page >= SEARCH_RESULT_LIMIT:
            paging["next_page"] = None
        results = [
            {**self.sim._render_ticket(t, context.base_url), "result_type": "ticket"} for t in page
        ]
        return {"results": results, "facets": None, **paging}

    def search_count(self, context: _Context) -> Any:
        hits = self.sim._search(context.query.get("query", ""))
        return {"count": len(hits)}

    def search_export(self, context: _Context) -> Any:
        query = context.query.get("query", "")
        object_type = context.query.get("filter[type]")
        if not object_type:
            raise HttpError(
                400,
                {"error": "InvalidSearchParameter", "description": "filter[type] is required"},
            )
        if re.search(r"(^|\s)-?type:", query):
            raise HttpError(
                400,
                {
                    "error": "InvalidSearchParameter",
                    "description": "Use filter[type] instead of type: in the query",
                },
            )
        hits = sorted(
            self.sim._search(query, object_type=object_type),
            key=lambda t: (t["created_at"], t["id"]),
        )
        page, meta, links = _cursor_page(
            context, hits, lambda t: (t["created_at"], t["id"]), max_size=MAX_EXPORT_PAGE_SIZE
        )
        results = [
            {**self.sim._render_ticket(t, context.base_url), "result_type": "ticket"} for t in page
        ]
        return {"results": results, "facets": None, "meta": meta, "links": links}

    def incremental_tickets(self, context: _Context) -> Any:
        if self.sim.role != "admin":
            raise HttpError(403, FORBIDDEN)
        size = _int_param(
            context.query, "per_page", MAX_INCREMENTAL_PAGE_SIZE, MAX_INCREMENTAL_PAGE_SIZE
        )
        cursor = context.query.get("cursor")
        start_time = context.query.get("start_time")
        if cursor:
            after_key = tuple(_decode_cursor(cursor))
        elif start_time is not None:
            try:
                start = int(start_time)
            except ValueError as exc:
                raise HttpError(
                    400, {"error": "InvalidValue", "description": "start_time must be an integer"}
                ) from exc
            if start > time.time():
                raise HttpError(
                    400, {"error": "InvalidValue", "description": "start_time is in the future"}
                )
            after_key = (start, -1)
        else:
            raise HttpError(
                400, {"error": "InvalidValue", "description": "start_time or cursor is required"}
            )
        horizon = time.time() - self.sim.incremental_lag_s

        def key(ticket: dict[str, Any]) -> tuple[int, int]:
            return int(parse_iso(ticket["updated_at"]).timestamp()), ticket["id"]

        candidates = sorted((t for t in self.sim.tickets.values() if key(t)[0] <= horizon), key=key)
        remaining = [t for t in candidates if key(t) > tuple(after_key)]
        page = remaining[:size]
        end_of_stream = len(remaining) <= size
        after_cursor = _encode_cursor(key(page[-1]) if page else tuple(after_key))
        before_cursor = _encode_cursor(key(page[0])) if page else None
        url = f"{context.base_url}{context.path}"
        tickets = []
        for ticket in page:
            rendered = self.sim._render_ticket(ticket, context.base_url)
            rendered["generated_timestamp"] = key(ticket)[0]
            tickets.append(rendered)
        return {
            "tickets": tickets,
            "after_cursor": after_cursor,
            "before_cursor": before_cursor,
            "after_url": f"{url}?{urlencode({'cursor': after_cursor})}",
            "before_url": f"{url}?{urlencode({'cursor': before_cursor})}"
            if before_cursor
            else None,
            "end_of_stream": end_of_stream,
            "count": len(tickets),
        }

    def unknown(self, context: _Context) -> Any:
        raise HttpError(404, {"error": "InvalidEndpoint", "description": "Not found"})


def create_zendesk_app(sim: ZendeskSimulator | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is `app.state.sim`."""
    sim = sim or ZendeskSimulator()
    handlers = _Handlers(sim)
    routes: list[Route] = []

    def add(path: str, name: str, handler: Callable[[_Context], Any], methods: list[str]) -> None:
        async def endpoint(request: Request) -> Response:
            return await sim.dispatch(request, name, handler)

        for variant in (f"/api/v2{path}.json", f"/api/v2{path}"):
            routes.append(Route(variant, endpoint, methods=methods, name=f"{name}{variant}"))

    add("/users/me", "users_me", handlers.users_me, ["GET"])
    add("/tickets", "list_tickets", handlers.list_tickets, ["GET"])
    add("/tickets", "create_ticket", handlers.create_ticket, ["POST"])
    add("/tickets/show_many", "show_many", handlers.show_many, ["GET"])
    add("/tickets/update_many", "update_many", handlers.update_many, ["PUT"])
    add("/tickets/{ticket_id:int}", "show_ticket", handlers.show_ticket, ["GET"])
    add("/tickets/{ticket_id:int}", "update_ticket", handlers.update_ticket, ["PUT"])
    add("/tickets/{ticket_id:int}/comments", "comments", handlers.comments, ["GET"])
    add("/tickets/{ticket_id:int}/tags", "tags", handlers.tags, ["GET", "PUT", "POST", "DELETE"])
    add("/search", "search", handlers.search, ["GET"])
    add("/search/count", "search_count", handlers.search_count, ["GET"])
    add("/search/export", "search_export", handlers.search_export, ["GET"])
    add("/job_statuses/{job_id}", "job_status", handlers.job_status, ["GET"])
    add("/webhooks", "create_webhook", handlers.create_webhook, ["POST"])
    add("/webhooks", "list_webhooks", handlers.list_webhooks, ["GET"])
    add("/webhooks/{webhook_id}", "webhook", handlers.webhook, ["GET", "DELETE"])
    add(
        "/webhooks/{webhook_id}/signing_secret",
        "webhook_signing_secret",
        handlers.webhook_signing_secret,
        ["GET"],
    )
    add(
        "/incremental/tickets/cursor",
        "incremental_tickets",
        handlers.incremental_tickets,
        ["GET"],
    )

    async def unknown(request: Request) -> Response:
        return await sim.dispatch(request, "unknown", handlers.unknown)

    routes.append(Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
    app = Starlette(routes=routes)
    app.state.sim = sim
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Run the Zendesk API simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per minute")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share answered 503")
    parser.add_argument("--timeout-rate", type=float, default=0.0, help="share that hang")
    parser.add_argument("--hang", type=float, default=30.0, help="seconds a hung request waits")
    parser.add_argument("--job-delay", type=float, default=0.05)
    parser.add_argument("--email", default=DEFAULT_EMAIL)
    parser.add_argument("--api-token", default=DEFAULT_API_TOKEN)
    parser.add_argument("--oauth-token", default=DEFAULT_OAUTH_TOKEN)
    parser.add_argument("--real-endpoint-limits", action="store_true")
    parser.add_argument("--webhook-url", default=None, help="send signed webhooks here")
    parser.add_argument("--webhook-secret", default=None, help="the webhook's signing secret")
    parser.add_argument(
        "--webhook-events", default="ticket.created", help="comma-separated, e.g. ticket.created"
    )
    args = parser.parse_args(argv)
    sim = ZendeskSimulator(
        email=args.email,
        api_token=args.api_token,
        oauth_token=args.oauth_token,
        latency_s=args.latency,
        rate_limit_per_minute=args.rate_limit,
        fault_5xx_rate=args.fault_rate,
        timeout_rate=args.timeout_rate,
        hang_s=args.hang,
        job_delay_s=args.job_delay,
        endpoint_limits=REAL_ENDPOINT_LIMITS_PER_MINUTE if args.real_endpoint_limits else None,
    )
    if args.webhook_url:
        if not args.webhook_secret:
            parser.error("--webhook-url needs --webhook-secret")
        sim.add_webhook(
            args.webhook_url,
            args.webhook_secret,
            events=tuple(name.strip() for name in args.webhook_events.split(",") if name.strip()),
        )
    print(
        f"Zendesk simulator: http://{args.host}:{args.port}  {len(sim.tickets)} tickets  "
        f"login {args.email}/token (api token from --api-token)"
    )
    uvicorn.run(create_zendesk_app(sim), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
