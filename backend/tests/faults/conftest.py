"""Fault-injection fixtures: a Redis database of our own for Celery workers and limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from app.integrations import zendesk
from tests.targets import TEST_FAULTS_REDIS_URL, wipe_redis
from tests.worker.conftest import committed_user, live_client, start_worker

__all__ = ["committed_user", "live_client", "start_worker"]

FAULTS_REDIS_URL = TEST_FAULTS_REDIS_URL


@pytest.fixture
def redis_broker() -> Iterator[str]:
    """Workers started by `start_worker` listen on this database (emptied before and after).

    Tasks are sent with an explicit connection (see `dispatch_to`), so the process-wide
    Celery app keeps its configuration for the other tests."""
    client = redis.Redis.from_url(FAULTS_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.exit(f"Redis at {FAULTS_REDIS_URL} is unreachable: {exc}", returncode=3)
    wipe_redis(client)
    yield FAULTS_REDIS_URL
    wipe_redis(client)
    client.close()


@pytest.fixture
def fresh_zendesk_clients() -> Iterator[None]:
    """Zendesk clients are cached per account with the settings of their first use: start
    and end with none, so a test's timeout or retry settings apply."""
    zendesk.close_all()
    yield
    zendesk.close_all()
