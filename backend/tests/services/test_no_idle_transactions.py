"""No connection of the app sits idle in a transaction while Zendesk or the LLM is slow.

The simulators answer every call after a delay; meanwhile pg_stat_activity is sampled for
connections to the test database that are `idle in transaction` for longer than a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from app.accounts import integrations
from app.database import session_scope
from app.models import User
from sandbox.openai_sim import OpenAISimulator
from sandbox.zendesk import ZendeskSimulator
from tests.factories import open_ticket_ids, run_batch_in_process
from tests.worker.conftest import login

pytestmark = pytest.mark.postgres_only

SLOW_S = 1.5
LIMIT_S = 1.0


@contextmanager
def longest_idle_in_transaction(engine: Engine) -> Iterator[list[float]]:
    """Samples, every 50 ms, how long the app's connections have been idle in transaction."""
    monitor = create_engine(engine.url, poolclass=None)
    longest = [0.0]
    stop = threading.Event()

    def sample() -> None:
        with monitor.connect() as connection:
            connection.execute(text("SET application_name = 'idle-monitor'"))
            connection.commit()
            while not stop.is_set():
                seconds = connection.execute(
                    text(
                        "SELECT coalesce(max(extract(epoch FROM now() - state_change)), 0) "
                        "FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND state = 'idle in transaction'"
                    )
                ).scalar_one()
                connection.commit()  # each sample in its own snapshot: now() moves on
                longest[0] = max(longest[0], float(seconds))
                time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield longest
    finally:
        stop.set()
        thread.join(timeout=5)
        monitor.dispose()


@pytest.fixture
def slow_upstreams(
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    openai_sim: OpenAISimulator,
    openai_base_url: str,
    openai_api_key: str,
) -> Callable[[], None]:
    """The user analyses with the LLM; both simulators answer after SLOW_S once started."""
    with session_scope() as db:
        integrations.update(
            db=db,
            user_id=committed_user.id,
            changes={
                "openai_api_key": openai_api_key,
                "openai_base_url": openai_base_url,
                "analysis_mode": "llm",
            },
        )

    def slow_down() -> None:
        zendesk_sim.latency_s = SLOW_S
        openai_sim.latency_s = SLOW_S

    return slow_down


def test_processing_one_ticket_holds_no_transaction_across_slow_upstreams(
    engine: Engine,
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    slow_upstreams: Callable[[], None],
) -> None:
    headers = login(live_client, committed_user)
    (ticket_id,) = open_ticket_ids(zendesk_sim, 1)
    slow_upstreams()
    with longest_idle_in_transaction(engine) as longest:
        started = time.monotonic()
        response = live_client.post(
            "/tickets/process", json={"ticket_id": ticket_id}, headers=headers
        )
        elapsed_s = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["write_back_status"] == "written"
    assert elapsed_s > 3 * SLOW_S  # fetch, analysis and write-back were all slow
    assert longest[0] < LIMIT_S


def test_a_batch_holds_no_transaction_across_slow_upstreams(
    engine: Engine,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    slow_upstreams: Callable[[], None],
) -> None:
    ids = open_ticket_ids(zendesk_sim, 5)
    slow_upstreams()
    with longest_idle_in_transaction(engine) as longest:
        job = run_batch_in_process(committed_user, ids)
    assert (job.state, job.done, job.failed) == ("succeeded", 5, 0)
    assert longest[0] < LIMIT_S


@pytest.mark.parametrize("upstream", ["zendesk", "openai"])
def test_a_connection_test_holds_no_transaction_across_a_slow_upstream(
    engine: Engine,
    live_client: TestClient,
    committed_user: User,
    slow_upstreams: Callable[[], None],
    upstream: str,
) -> None:
    headers = login(live_client, committed_user)
    slow_upstreams()
    with longest_idle_in_transaction(engine) as longest:
        response = live_client.post(f"/settings/{upstream}/test", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True, response.text
    assert longest[0] < LIMIT_S
