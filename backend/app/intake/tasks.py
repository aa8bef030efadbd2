"""Celery tasks for automatic intake by polling (thin: they call app.intake.polling).

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

from app.database import get_session_factory, session_scope
from app.errors import AppError
from app.intake import polling as intake_polling
from app.integrations.zendesk import ZendeskError
from app.unit_of_work import UnitOfWork
from app.worker import celery_app

logger = logging.getLogger(__name__)

POLL_DISPATCH_EVERY_S = 30.0
PRUNE_DELIVERIES_EVERY_S = 3600.0


@celery_app.task(name="triage.poll_due_integrations", ignore_result=True)
def poll_due_integrations() -> int:
    """Queue a poll for every integration that is due (sent after the commit of the claim);
    returns how many."""
    with session_scope() as db:
        integration_ids = intake_polling.claim_due_integrations(db=db)
    return len(integration_ids)


@celery_app.task(name="triage.poll_zendesk", acks_late=True)
def poll_zendesk(integration_id: int) -> dict[str, Any]:
    """One polling run for one integration. Failures are not retried here: the next due run
    starts again from the last stored cursor."""
    with get_session_factory()() as db:
        try:
            result = intake_polling.poll_integration(
                uow=UnitOfWork(db), integration_id=integration_id
            )
        except (ZendeskError, AppError) as exc:
            message = exc.message
            logger.warning("zendesk poll failed: integration_id=%s %s", integration_id, message)
            return {"integration_id": integration_id, "error": message}
    return asdict(result)


@celery_app.task(name="triage.prune_webhook_deliveries", ignore_result=True)
def prune_webhook_deliveries() -> int:
    """Delete webhook deliveries past their retention, a chunk per transaction; returns how
    many."""
    deleted = 0
    while True:
        with session_scope() as db:
            chunk = intake_polling.prune_deliveries(db=db)
        deleted += chunk
        if chunk == 0:
            break
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
