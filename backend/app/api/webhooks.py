"""Zendesk webhooks: signed deliveries that queue tickets for processing.

No bearer token: the URL names the integration (GET /settings/ shows it) and the request
is authenticated by its signature. An unknown URL is a 404 so a mistyped one is easy to
spot in Zendesk's webhook activity log; the URL's id is 128 random bits, so there is
nothing to learn by probing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Request, Response, status
from pydantic import BaseModel

from app.database import SessionDep
from app.intake import webhook_payloads
from app.intake import webhooks as intake_webhooks
from app.schemas import ErrorResponse

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class WebhookAck(BaseModel):
    status: Literal["queued", "duplicate", "ignored"]
    ticket_id: int | None = None
    job_id: str | None = None
    detail: str | None = None


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]
OptionalHeader = Annotated[str | None, Header()]

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": WebhookAck, "description": "Duplicate or ignored delivery: nothing new queued"},
    400: {"model": ErrorResponse, "description": "Zendesk is not configured for this account"},
    401: {
        "model": ErrorResponse,
        "description": (
            "Signature missing, wrong (or no secret set), timestamp not ISO-8601, or stale"
        ),
    },
    404: {"model": ErrorResponse, "description": "Unknown webhook URL"},
    413: {"model": ErrorResponse, "description": "Body larger than 256 KiB"},
    422: {"model": ErrorResponse, "description": "No valid ticket id in the body"},
    503: {"model": ErrorResponse, "description": "The job queue is unavailable (Zendesk retries)"},
}


@router.post(
    "/zendesk/{integration_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAck,
    responses=RESPONSES,
)
def zendesk_webhook(
    integration_id: Annotated[str, Path(max_length=64)],
    body: RawBody,
    db: SessionDep,
    response: Response,
    x_zendesk_webhook_signature: OptionalHeader = None,
    x_zendesk_webhook_signature_timestamp: OptionalHeader = None,
    x_zendesk_webhook_id: OptionalHeader = None,
    x_zendesk_webhook_invocation_id: OptionalHeader = None,
) -> WebhookAck:
    """Receive a Zendesk webhook: `{"ticket_id": "{{ticket.id}}"}` from a trigger, or a
    `ticket.created` event. 202 when the ticket was queued; 200 for a repeated delivery or
    one that starts nothing (another event type, or a change we made ourselves)."""
    result = intake_webhooks.receive_webhook(
        db=db,
        public_id=integration_id,
        raw_body=body,
        headers=webhook_payloads.WebhookHeaders(
            signature=x_zendesk_webhook_signature,
            timestamp=x_zendesk_webhook_signature_timestamp,
            webhook_id=x_zendesk_webhook_id,
            invocation_id=x_zendesk_webhook_invocation_id,
        ),
    )
    if result.status != "queued":
        response.status_code = status.HTTP_200_OK
    return WebhookAck(
        status=result.status,  # type: ignore[arg-type]
        ticket_id=result.zendesk_ticket_id,
        job_id=result.job_id,
        detail=result.reason,
    )
