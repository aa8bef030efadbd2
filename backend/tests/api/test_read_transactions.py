"""Read routes with the sessions as served (not the tests' rolled-back one): a
cached-token read takes one worker-thread hop in all and leaves no connection checked out,
and every read route answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from app.database import get_engine, session_scope
from app.main import create_app
from app.models import User
from tests.factories import create_analysed_ticket, sign_up

READS = ("/tickets/", "/tickets/stats/summary", "/analytics/dashboard")


@pytest.fixture
def real_client(engine: Engine) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app with its own session dependency; a committed user, deleted afterwards."""
    email = f"reads-{time.monotonic_ns()}@example.com"
    try:
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            yield client, sign_up(client, email)
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM users WHERE email = :e"), {"e": email})


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions sent to a worker thread, in order."""
    sent: list[str] = []
    real_run_sync = anyio.to_thread.run_sync

    async def counting_run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(func, "__name__", repr(func)))
        return await real_run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting_run_sync)
    return sent


@pytest.mark.parametrize("path", READS)
def test_a_read_takes_one_worker_thread_hop_and_leaves_no_transaction_open(
    real_client: tuple[TestClient, dict[str, str]], hops: list[str], path: str
) -> None:
    client, headers = real_client
    assert client.get(path, headers=headers).status_code == 200  # the token is now cached
    hops.clear()
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert len(hops) == 1, hops
    assert get_engine().pool.checkedout() == 0


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tickets/jobs", 200),
        ("/tickets/jobs/no-such-job", 404),
        ("/tickets/4242", 404),
        ("/analytics/trends", 200),
        ("/analytics/categories", 200),
        ("/analytics/sentiments", 200),
        ("/analytics/cost", 200),
    ],
)
def test_every_read_route_answers_with_the_real_sessions(
    real_client: tuple[TestClient, dict[str, str]], path: str, status: int
) -> None:
    """The read routes' sessions as served, not the tests' shared one."""
    client, headers = real_client
    for _ in range(2):  # the token's first use is checked in the database, the next cached
        response = client.get(path, headers=headers)
        assert response.status_code == status, response.text
    assert get_engine().pool.checkedout() == 0


def test_the_export_streams_its_rows_with_the_real_sessions(
    real_client: tuple[TestClient, dict[str, str]],
) -> None:
    """Its rows come from a server-side cursor, which needs a transaction (a read session
    commits statement by statement): the whole file arrives, not just its header."""
    client, headers = real_client
    me = client.get("/auth/me", headers=headers).json()
    with session_scope() as db:
        user = db.scalars(select(User).where(User.email == me["email"])).one()
        create_analysed_ticket(db, user, subject="Exported with its row")
    response = client.get("/analytics/export.csv", headers=headers)
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert len(lines) == 2 and "Exported with its row" in lines[1], lines
