"""The Admin Center webhooks API (event subscriptions, which need no trigger)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from sandbox.zendesk.common import (
    WEBHOOK_ADMIN_EVENTS,
    HttpError,
    _Context,
    _webhook_error,
    iso_utc,
)
from sandbox.zendesk.handling import HandlerBase
from sandbox.zendesk.webhooks import WebhookSubscription


class WebhookHandlers(HandlerBase):
    """Create, list, show, delete webhooks and read their signing secret."""

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
