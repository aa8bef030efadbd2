"""Outgoing webhooks: subscriptions, rendering, signed delivery with Zendesk's retries."""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.zendesk.common import (
    ACCOUNT_ID,
    WEBHOOK_EVENT_VERSION,
    WEBHOOK_MAX_RETRIES,
    WEBHOOK_RETRY_STATUSES,
    HttpError,
    _id_string,
    _utcnow,
    _webhook_error,
    iso_utc,
    sign_webhook,
)


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


class WebhooksMixin:
    """Webhook subscriptions and their delivery threads (part of ZendeskSimulator)."""

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
        refusal = self.webhook_endpoint_check(url) if self.webhook_endpoint_check else None
        if refusal is not None:
            raise HttpError(403, _webhook_error("EndpointNotAllowed", refusal))
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
