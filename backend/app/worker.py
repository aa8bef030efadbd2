"""Celery app and tasks. Tasks are thin: they take ids and call services.

Broker and results: Redis when REDIS_URL is set, otherwise SQLite files in the data
directory (kombu's SQLAlchemy transport), so the embedded default runs a real worker too.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
from typing import Any

from celery import Celery
from celery.signals import (
    setup_logging,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

from app.batch import jobs as batch_jobs
from app.batch import runner as batch_runner
from app.config import Settings, get_settings
from app.core import broker, observability
from app.database import session_scope
from app.errors import AppError
from app.integrations.factory import close_clients, configure_clients

logger = logging.getLogger(__name__)


def broker_transport_options(settings: Settings) -> dict[str, int]:
    """Redis: acks_late + a visibility timeout redeliver the task of a worker that died
    (SIGKILL, lost machine) to another worker; sweep for such tasks often enough that the
    timeout, not the sweep period, decides. (The SQLite broker keeps its own defaults.)"""
    if not settings.celery_broker_url.startswith(("redis://", "rediss://")):
        return {}
    timeout = settings.celery_visibility_timeout_s
    return {
        "visibility_timeout": timeout,
        "unacked_restore_interval": max(1, min(10, timeout // 5)),
        "unacked_restore_throttle": 1,
    }


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Celery(
        "ticket_triage", broker=settings.celery_broker_url, backend=settings.celery_result_backend
    )
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        broker_transport_options=broker_transport_options(settings),
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        worker_hijack_root_logger=False,
    )
    return app


# JSON logs like the API's (connecting the signal stops Celery configuring its own).
setup_logging.connect(observability.configure_worker_logging)
# The worker's one context: the settings read once here, passed to what it builds.
worker_settings = get_settings()
celery_app = create_celery(worker_settings)
app = celery_app  # `celery -A app.worker` finds it
# Task modules with their beat schedules (worker and beat both import them).
celery_app.conf.include = [
    *celery_app.conf.include,
    "app.intake.tasks",
    "app.batch.tasks",
    "app.analysis.tasks",
]


@worker_init.connect
def _consume_through_our_transports(**_signal_kwargs: object) -> None:
    """Workers consume through app.core.broker's transports (kombu defects worked around, see
    there); publishers (the API, tests) keep kombu's own, which write the same messages.
    SQLite broker: messages a killed worker took and never acknowledged go back to the
    queue when a worker starts alone on it (Redis redelivers them after its visibility
    timeout instead)."""
    settings = get_settings()
    broker_url, transport = broker.celery_broker(celery_app.conf.broker_url)
    if transport is None:
        return
    celery_app.conf.update(broker_url=broker_url, broker_transport=transport)
    if transport == broker.SQLITE_TRANSPORT:
        requeued = broker.requeue_orphaned(broker_url, settings.data_dir)
        if requeued:
            logger.warning("requeued %d tasks a stopped worker had not finished", requeued)


@worker_init.connect
def _preload_models(**_signal_kwargs: object) -> None:
    """Load the offline model in the parent, before the pool forks: every child shares it
    instead of each paying for the load on its first task."""
    from app.analysis import cascade

    cascade.shared_context()
    # The model's vocabularies are ~200k long-lived objects: moved out of the collector's
    # reach, full collections in the children stop walking them (and stop touching their
    # pages, which stay shared copy-on-write with the parent).
    gc.freeze()


@worker_process_init.connect
def _configure_clients(**_signal_kwargs: object) -> None:
    configure_clients(worker_settings)


@worker_process_shutdown.connect
def _close_clients(**_signal_kwargs: object) -> None:
    """Close the pooled upstream clients of a pool process that exits."""
    close_clients()


def worker_id(hostname: str | None) -> str:
    """Who holds a job's lease: the Celery node and the pool process (its children share
    the node name, and one of them must not take over a job another is still running)."""
    return f"{hostname or socket.gethostname()}/{os.getpid()}"


@celery_app.task(
    name="triage.process_batch",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=6,
    # Progress and outcome live in batch_jobs; not waiting on a result also spares each
    # dispatch the result backend's subscription (and its ~20 s of retries if Redis is down).
    ignore_result=True,
)
def process_batch(self, job_id: str) -> None:  # type: ignore[no-untyped-def]
    """Run or resume one batch job; retry only transient failures, with backoff."""
    try:
        batch_runner.run_job(job_id, worker_id=worker_id(self.request.hostname))
    except batch_jobs.UserAtCapacity as exc:
        # Done with: the job waits for one of the user's jobs to finish and hand it on.
        logger.info("batch job %s waits for a share: %s", job_id, exc)
    except batch_jobs.LeaseHeld as exc:
        _requeue(self, countdown_s=max(1.0, exc.retry_in_s))
    except batch_jobs.TransientUpstreamError as exc:
        _retry_or_fail(self, job_id, exc, f"Zendesk kept failing: {exc}")
    except AppError as exc:
        if exc.status_code < 500:  # e.g. the credentials were removed: retrying cannot help
            batch_runner.fail_job(job_id, exc.message)
            return
        _retry_or_fail(self, job_id, exc)
    except Exception as exc:  # a database busy or down, a bug: never leave the job hanging
        logger.exception("batch job %s failed", job_id)
        _retry_or_fail(self, job_id, exc)


def _requeue(task: Any, countdown_s: float) -> None:
    """Back to the queue for a job whose lease another worker holds, as often as it takes:
    waiting is not a failure, so the count of retries (the budget of real failures) is kept,
    not spent. (`task.retry` with `max_retries=None` falls back to the task's max_retries:
    after six waits the task was dropped and the job stayed queued.)"""
    task.signature_from_request(countdown=countdown_s, retries=task.request.retries).apply_async()


def _retry_or_fail(task: Any, job_id: str, exc: Exception, reason: str | None = None) -> None:
    """Retry with backoff; after the last retry, fail the job with `reason`."""
    if task.request.retries >= (task.max_retries or 0):
        reason = reason or f"the job failed after retries: {type(exc).__name__}"
        batch_runner.fail_job(job_id, reason)
        return
    raise task.retry(countdown=min(60, 2 ** (task.request.retries + 1))) from exc


@celery_app.task(name="triage.resume_stalled_jobs", ignore_result=True)
def resume_stalled_jobs() -> int:
    """Beat: hand jobs whose task was lost to the queue again."""
    with session_scope() as db:
        job_ids = batch_jobs.stalled_jobs(db=db)
    if job_ids:
        logger.warning("resumed %d stalled batch jobs", len(job_ids))
    return len(job_ids)


@celery_app.task(name="triage.reconcile_rollups", ignore_result=True)
def reconcile_rollups() -> int:
    """Beat: recompute the recent days' rollups from the raw analyses; returns users done."""
    from app.analytics import rollups_write

    with session_scope() as db:
        return rollups_write.reconcile_recent(db)


RESUME_STALLED_EVERY_S = 60  # a job whose send failed at commit waits at most this
RECONCILE_ROLLUPS_EVERY_S = 3600
celery_app.conf.beat_schedule = {
    **(celery_app.conf.beat_schedule or {}),
    "triage.reconcile_rollups": {
        "task": "triage.reconcile_rollups",
        "schedule": RECONCILE_ROLLUPS_EVERY_S,
        "options": {"expires": RECONCILE_ROLLUPS_EVERY_S},
    },
    "triage.resume_stalled_jobs": {
        "task": "triage.resume_stalled_jobs",
        "schedule": RESUME_STALLED_EVERY_S,
        "options": {"expires": RESUME_STALLED_EVERY_S},
    },
}
