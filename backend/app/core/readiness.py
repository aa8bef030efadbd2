"""Readiness checks for the database and (when configured) Redis."""

from __future__ import annotations

import logging

from sqlalchemy import text

from app.config import Settings
from app.database import get_engine

logger = logging.getLogger(__name__)


def check_database() -> str:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        return "unreachable"
    return "ok"


def check_redis(redis_url: str) -> str:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except Exception as exc:
        logger.warning("readiness: redis unreachable: %s", type(exc).__name__)
        return "unreachable"
    finally:
        client.close()
    return "ok"


def readiness(settings: Settings) -> dict[str, str]:
    checks = {"database": check_database()}
    if settings.redis_url:
        checks["redis"] = check_redis(settings.redis_url)
    return checks
