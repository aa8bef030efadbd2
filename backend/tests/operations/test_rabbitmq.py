"""Celery on RabbitMQ: a real worker with an AMQP broker runs a batch end to end.

`TEST_AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/test_triage`) names the broker;
its virtual host is created if missing (rabbitmqctl, or the management API) and its
`celery` queue is deleted before and after. An unreachable RabbitMQ is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from kombu import Connection
from sqlalchemy import Engine

from app.models import User
from sandbox.zendesk import ZendeskSimulator
from tests.factories import open_ticket_ids
from tests.faults.test_zendesk_faults import run_batch
from tests.worker.conftest import (
    WorkerFactory,
    committed_user,
    count,
    live_client,
    redis_broker,
    start_worker,
)

__all__ = ["committed_user", "live_client", "redis_broker", "start_worker"]

pytestmark = pytest.mark.postgres_only
TEST_AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/test_triage")


def ensure_virtual_host(url: str) -> None:
    """Create the URL's virtual host (and the user's permissions on it) if it is missing."""
    connection = Connection(url, connect_timeout=5)
    try:
        connection.ensure_connection(max_retries=1)
        return
    except Exception:  # the virtual host may not exist yet
        pass
    finally:
        connection.release()
    vhost, user = connection.virtual_host, connection.userid or "guest"
    if shutil.which("rabbitmqctl"):
        subprocess.run(["rabbitmqctl", "add_vhost", vhost], capture_output=True, timeout=60)
        subprocess.run(
            ["rabbitmqctl", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
            capture_output=True,
            timeout=60,
        )
    else:
        api = f"http://{connection.hostname}:15672/api"
        auth = (user, connection.password or "guest")
        httpx.put(f"{api}/vhosts/{quote(vhost, safe='')}", auth=auth, timeout=10)
        httpx.put(
            f"{api}/permissions/{quote(vhost, safe='')}/{user}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            auth=auth,
            timeout=10,
        )


@pytest.fixture
def amqp_broker() -> Iterator[str]:
    ensure_virtual_host(TEST_AMQP_URL)
    try:
        with Connection(TEST_AMQP_URL, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=2)
            connection.channel().queue_delete("celery")  # Celery declares it again
    except Exception as exc:
        pytest.exit(f"RabbitMQ at {TEST_AMQP_URL} is unreachable: {exc}", returncode=3)
    yield TEST_AMQP_URL
    with Connection(TEST_AMQP_URL, connect_timeout=5) as connection:
        connection.channel().queue_delete("celery")


def test_a_worker_on_rabbitmq_runs_a_batch(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
    amqp_broker: str,
    engine: Engine,
) -> None:
    start_worker("rabbit", BROKER_URL=amqp_broker)
    ids = open_ticket_ids(zendesk_sim, 12)
    body = run_batch(live_client, committed_user, amqp_broker, ids)
    assert body["state"] == "succeeded", body
    assert body["progress"] == {"done": 12, "failed": 0, "total": 12}
    user = committed_user.id
    assert count(engine, "SELECT count(*) FROM ticket_analyses WHERE user_id = :u", u=user) == 12
