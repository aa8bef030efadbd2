"""Celery tasks for automatic intake by polling (thin: they call intake_service).

Celery beat runs `triage.poll_due_integrations` every POLL_DISPATCH_EVERY_S; it claims the
integrations with polling on whose `polling_interval_s` has passed and queues one
`triage.poll_zendesk` per integration. Run beat next to the workers:
`celery -A app.worker beat` (or a worker with `-B` when there is only one). Beat also runs
`triage.prune_webhook_deliveries` hourly (WEBHOOK_DELIVERY_RETENTION_DAYS).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from app.database import session_scope
from app.errors import AppError
from app.integrations.zendesk import ZendeskError
from app.services import intake_service
from app.worker import celery_app, dispatch_batch

logger = logging.getLogger(__name__)

POLL_DISPATCH_EVERY_S = 30.0
PRUNE_DELIVERIES_EVERY_S = 3600.0


@celery_app.task(name="triage.poll_due_integrations", ignore_result=True)
def poll_due_integrations() -> int:
    """Queue a poll for every integration that is due; returns how many."""
    with session_scope() as db:
        integration_ids = intake_service.claim_due_integrations(db=db)
    for integration_id in integration_ids:
        poll_zendesk.apply_async(args=[integration_id], retry=True)
    return len(integration_ids)


@celery_app.task(name="triage.poll_zendesk", acks_late=True)
def poll_zendesk(integration_id: int) -> dict[str, Any]:
    """One polling run for one integration. Failures are not retried here: the next due run
    starts again from the last stored cursor."""
    with session_scope() as db:
        try:
            result = intake_service.poll_integration(
                db=db, integration_id=integration_id, dispatch=dispatch_batch
            )
        except (ZendeskError, AppError) as exc:
            db.rollback()
            message = exc.message
            logger.warning("zendesk poll failed: integration_id=%s %s", integration_id, message)
            return {"integration_id": integration_id, "error": message}
    return asdict(result)


@celery_app.task(name="triage.prune_webhook_deliveries", ignore_result=True)
def prune_webhook_deliveries() -> int:
    """Delete webhook deliveries past their retention; returns how many."""
    with session_scope() as db:
        deleted = intake_service.prune_deliveries(db=db)
    if deleted:
        logger.info("pruned webhook deliveries: deleted=%s", deleted)
    return deleted


celery_app.conf.beat_schedule = {
    **(celery_app.conf.beat_schedule or {}),
    "triage.poll_due_integrations": {
        "task": "triage.poll_due_integrations",
        "schedule": POLL_DISPATCH_EVERY_S,
        "options": {"expires": POLL_DISPATCH_EVERY_S},
    },
    "triage.prune_webhook_deliveries": {
        "task": "triage.prune_webhook_deliveries",
        "schedule": PRUNE_DELIVERIES_EVERY_S,
        "options": {"expires": PRUNE_DELIVERIES_EVERY_S},
    },
}
