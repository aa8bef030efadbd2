"""Celery tasks of the Batch API path and of backfills (thin: they call `app.batch.llm_batch`
and `app.batch.backfills`).

Loaded by the worker through `celery_app.conf.include`; the beat entries below run when a
beat process is started (`celery -A app.worker beat`, or a worker with `-B`):
- `triage.submit_llm_batches` every 10 minutes: opted-in users' pending tickets → one batch each;
- `triage.poll_llm_batches` every 5 minutes: completed batches are applied once.
"""

from __future__ import annotations

from typing import Any

from app.batch import backfills, llm_submit
from app.errors import AppError
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


@celery_app.task(
    name=backfills.RUN_BACKFILL, bind=True, acks_late=True, max_retries=5, ignore_result=True
)
def run_backfill(self: Any, backfill_id: str) -> None:
    """Search Zendesk for a backfill's tickets and queue them as batch jobs."""
    try:
        backfills.run(backfill_id)
    except AppError as exc:
        if exc.status_code < 500:  # e.g. the credentials were removed: retrying cannot help
            backfills.fail(backfill_id, exc.message)
            return
        _retry_or_fail(self, backfill_id, exc)
    except Exception as exc:  # a database busy or down: never leave the backfill hanging
        _retry_or_fail(self, backfill_id, exc)


def _retry_or_fail(task: Any, backfill_id: str, exc: Exception) -> None:
    if task.request.retries >= (task.max_retries or 0):
        backfills.fail(backfill_id, f"the backfill failed after retries: {type(exc).__name__}")
        return
    raise task.retry(countdown=min(60, 2 ** (task.request.retries + 1))) from exc
