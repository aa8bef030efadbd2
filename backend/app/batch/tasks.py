"""Celery tasks of the Batch API path (thin: they call `app.batch.llm_batch`).

Loaded by the worker through `celery_app.conf.include`; the beat entries below run when a
beat process is started (`celery -A app.worker beat`, or a worker with `-B`):
- `triage.submit_llm_batches` every 10 minutes: opted-in users' pending tickets → one batch each;
- `triage.poll_llm_batches` every 5 minutes: completed batches are applied once.
"""

from __future__ import annotations

from app.batch import llm_submit
from app.worker import celery_app

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


@celery_app.task(name="triage.submit_llm_batches", acks_late=True)
def submit_llm_batches() -> dict[str, int]:
    """Upload the pending non-urgent tickets of opted-in users to the Batch API."""
    return llm_submit.submit_all_pending()


@celery_app.task(name="triage.poll_llm_batches", acks_late=True)
def poll_llm_batches() -> dict[str, int]:
    """Follow every open batch; apply completed ones (idempotent)."""
    return llm_submit.poll_open_batches()
