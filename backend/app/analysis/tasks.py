"""Celery task of the learning loop (thin: it calls `app.analysis.learning`).

Loaded by the worker through `celery_app.conf.include`. `triage.retrain_user_model` is queued
on demand (after feedback) with a user id; the name is kept stable so queued tasks still route.
"""

from __future__ import annotations

import logging
from typing import Any

from app.analysis import learning
from app.config import get_settings
from app.database import session_scope
from app.worker import celery_app

logger = logging.getLogger(__name__)


@celery_app.task(name=learning.RETRAIN_USER_MODEL, acks_late=True, reject_on_worker_lost=True)
def retrain_user_model(user_id: int) -> dict[str, Any]:
    """Train a candidate for one user and activate it only if it is not worse. Where the
    training extras are missing, log why and give up (a retry would fail the same way)."""
    try:
        with session_scope() as db:
            result = learning.retrain_user_model(
                db=db, user_id=user_id, cooldown_s=get_settings().retrain_cooldown_s
            )
    except learning.TrainingUnavailable as exc:
        logger.error("retrain of user %s not run: %s", user_id, exc)
        return {"promoted": False, "version": None, "reason": str(exc)}
    return {"promoted": result.promoted, "version": result.version, "reason": result.reason}
