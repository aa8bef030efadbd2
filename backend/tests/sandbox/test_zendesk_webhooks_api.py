"""The Zendesk simulator's webhooks API (Admin Center event subscriptions) over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.intake import webhook_payloads
from sandbox.serve import serve_in_thread
from sandbox.zendesk import ZendeskSimulator


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """An HTTP endpoint that records what it receives (headers, raw body)."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=202)

    with serve_in_thread(Starlette(routes=[Route("/hook", receive, methods=["POST"])])) as url:
        yield f"{url}/hook", received


def test_webhooks_api_creates_a_signed_ticket_created_subscription(
    http: httpx.Client,
    zendesk_sim: ZendeskSimulator,
    webhook_receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    endpoint, received = webhook_receiver
    created = http.post(
        "/api/v2/webhooks",
        json={
            "webhook": {
                "name": "Ticket Triage",
                "endpoint": endpoint,
                "http_method": "POST",
                "request_format": "json",
                "status": "active",
                "subscriptions": ["zen:event-type:ticket.created"],
            }
        },
    )
    assert created.status_code == 201, created.text
    webhook = created.json()["webhook"]
    assert (webhook["endpoint"], webhook["subscriptions"]) == (
        endpoint,
        ["zen:event-type:ticket.created"],
    )
    assert [w["id"] for w in http.get("/api/v2/webhooks").json()["webhooks"]] == [webhook["id"]]
    secret = http.get(f"/api/v2/webhooks/{webhook['id']}/signing_secret").json()
    secret = secret["signing_secret"]["secret"]

    ticket = http.post(
        "/api/v2/tickets.json",
        json={"ticket": {"subject": "Export fails", "comment": {"body": "It crashes."}}},
    ).json()["ticket"]
    zendesk_sim.wait_for_webhooks(1)
    ((headers, raw),) = received
    assert webhook_payloads.signature_matches(
        secret=secret,
        timestamp=headers["x-zendesk-webhook-signature-timestamp"],
        raw_body=raw,
        signature=headers["x-zendesk-webhook-signature"],
    )
    body = json.loads(raw)
    assert (body["type"], body["detail"]["id"]) == (
        "zen:event-type:ticket.created",
        str(ticket["id"]),
    )

    assert http.delete(f"/api/v2/webhooks/{webhook['id']}").status_code == 204
    assert http.get("/api/v2/webhooks").json()["webhooks"] == []
    http.post("/api/v2/tickets.json", json={"ticket": {"comment": {"body": "Another one."}}})
    time.sleep(0.2)
    assert len(received) == 1


@pytest.mark.parametrize(
    "webhook",
    [
        {"name": "x", "subscriptions": ["zen:event-type:ticket.created"]},
        {
            "name": "x",
            "endpoint": "ftp://example.com",
            "subscriptions": ["zen:event-type:ticket.created"],
        },
        {"endpoint": "http://example.com", "subscriptions": ["zen:event-type:ticket.created"]},
        {
            "name": "x",
            "endpoint": "http://example.com",
            "subscriptions": ["conditional_ticket_events"],
        },
        {"name": "x", "endpoint": "http://example.com", "subscriptions": []},
    ],
)
def test_webhooks_api_rejects_what_the_sandbox_cannot_send(
    http: httpx.Client, webhook: dict[str, Any]
) -> None:
    response = http.post("/api/v2/webhooks", json={"webhook": webhook})
    assert response.status_code == 400
    assert response.json()["errors"][0]["detail"]
    assert http.get("/api/v2/webhooks/01UNKNOWN/signing_secret").status_code == 404
