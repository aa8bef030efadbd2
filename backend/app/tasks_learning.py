"""Celery tasks of the learning loop and the Batch API path (thin: they call services).

Loaded by the worker through `celery_app.conf.include`; the beat entries below run when a
beat process is started (`celery -A app.worker beat`, or a worker with `-B`):
- `triage.submit_llm_batches` every 10 minutes: opted-in users' pending tickets → one batch each;
- `triage.poll_llm_batches` every 5 minutes: completed batches are applied once.
`triage.retrain_user_model` is queued on demand (e.g. after feedback) with a user id.
"""

from __future__ import annotations

import logging
from typing import Any

from app.database import session_scope
from app.services import learning, llm_batch
from app.worker import celery_app

logger = logging.getLogger(__name__)

SUBMIT_EVERY_S = 600.0
POLL_EVERY_S = 300.0

celery_app.conf.beat_schedule = {
    **(celery_app.conf.beat_schedule or {}),
    "triage.submit_llm_batches": {
        "task": "triage.submit_llm_batches",
        "schedule": SUBMIT_EVERY_S,
    },
    "triage.poll_llm_batches": {"task": "triage.poll_llm_batches", "schedule": POLL_EVERY_S},
}


@celery_app.task(name="triage.retrain_user_model", acks_late=True, reject_on_worker_lost=True)
def retrain_user_model(user_id: int) -> dict[str, Any]:
    """Train a candidate for one user and activate it only if it is not worse."""
    with session_scope() as db:
        result = learning.retrain_user_model(db=db, user_id=user_id)
    return {"promoted": result.promoted, "version": result.version, "reason": result.reason}


@celery_app.task(name="triage.submit_llm_batches", acks_late=True)
def submit_llm_batches() -> dict[str, int]:
    """Upload the pending non-urgent tickets of opted-in users to the Batch API."""
    return llm_batch.submit_all_pending()


@celery_app.task(name="triage.poll_llm_batches", acks_late=True)
def poll_llm_batches() -> dict[str, int]:
    """Follow every open batch; apply completed ones (idempotent)."""
    return llm_batch.poll_open_batches()


def dispatch_retrain(user_id: int) -> None:
    retrain_user_model.apply_async(args=[user_id], retry=True)
