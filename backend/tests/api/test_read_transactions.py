"""Read routes with the sessions as served (not the tests' rolled-back one): a
cached-token read runs on the event loop on PostgreSQL (the async driver) and takes one
worker-thread hop on SQLite, leaves no connection checked out, answers the same through
either reader, and every read route answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from app.analytics.report_cache import ReportCache
from app.config import get_settings
from app.database import ReadOnlySessionError, get_engine, session_scope
from app.main import create_app
from app.models import Ticket, User
from app.reads import LoopReader, async_read_engine, loop_session_factory
from tests.factories import create_analysed_ticket, sign_up

READS = (
    "/tickets/",
    "/tickets/stats/summary",
    "/analytics/dashboard",
    "/tickets/jobs",
    "/analytics/trends",
    "/analytics/categories",
    "/analytics/cost",
)


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


def checked_out_connections(client: TestClient) -> int:
    """Connections of the app's pools in use: the synchronous engine's and, on
    PostgreSQL, the read routes' async engine's."""
    loop_reads = client.app.state.loop_reads  # type: ignore[attr-defined]
    in_use = get_engine().pool.checkedout()
    if loop_reads is not None:
        in_use += loop_reads.kw["bind"].sync_engine.pool.checkedout()
    return in_use


@pytest.mark.parametrize("path", READS)
def test_a_read_runs_on_the_event_loop_on_postgresql_and_leaves_no_connection_out(
    real_client: tuple[TestClient, dict[str, str]], hops: list[str], path: str
) -> None:
    client, headers = real_client
    assert client.get(path, headers=headers).status_code == 200  # the token is now cached
    hops.clear()
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    on_postgresql = get_engine().dialect.name == "postgresql"
    assert (client.app.state.loop_reads is not None) == on_postgresql  # type: ignore[attr-defined]
    assert len(hops) == (0 if on_postgresql else 1), hops
    assert checked_out_connections(client) == 0


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
    assert checked_out_connections(client) == 0


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


@pytest.mark.postgres_only
def test_the_async_driver_answers_every_hot_read_exactly_as_psycopg2_does(
    real_client: tuple[TestClient, dict[str, str]],
) -> None:
    """asyncpg and psycopg2 hand back their own Python types (datetimes, decimals, JSON):
    the responses must not tell them apart."""
    client, headers = real_client
    me = client.get("/auth/me", headers=headers).json()
    with session_scope() as db:
        user = db.scalars(select(User).where(User.email == me["email"])).one()
        analyses = [
            create_analysed_ticket(db, user, subject="Refund twice", category="billing",
                                   urgency="high", sentiment="negative", cost_usd="0.0123",
                                   confidence=0.625),
            create_analysed_ticket(db, user, subject="Crash on save", source="llm",
                                   feedback_category="bug", feedback_urgency="high"),
            create_analysed_ticket(db, user, subject="Ünïcödé ✓ question", category="feature",
                                   sentiment="positive", processing_time_ms=7),
        ]  # fmt: skip
        ticket_ids = [
            db.get_one(Ticket, analysis.ticket_id).zendesk_ticket_id for analysis in analyses
        ]
    app = client.app
    period_end = datetime.now(UTC) + timedelta(hours=1)
    reads = [
        "/tickets/",
        "/tickets/?sort=-created_at&category=billing",
        "/tickets/?q=crash&page_size=5",
        "/tickets/stats/summary",
        f"/analytics/dashboard?end={period_end:%Y-%m-%dT%H:%M:%SZ}&tz=Europe/Paris",
        *(f"/tickets/{ticket_id}" for ticket_id in ticket_ids),
    ]
    loop_reads = app.state.loop_reads  # type: ignore[attr-defined]
    for path in reads:
        answers = []
        for factory in (loop_reads, None):
            app.state.loop_reads = factory  # type: ignore[attr-defined]
            app.state.report_cache = ReportCache(0)  # type: ignore[attr-defined]
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.text)
            answers.append(response.json())
        assert answers[0] == answers[1], path
    app.state.loop_reads = loop_reads  # type: ignore[attr-defined]


@pytest.mark.postgres_only
def test_a_loop_readers_session_refuses_to_write() -> None:
    """As the synchronous read sessions do: a read route that tries to write is a bug."""
    read_engine = async_read_engine(get_settings().database_url)
    assert read_engine is not None

    def write(db: Session) -> None:
        db.add(User(email="never-stored@example.com"))
        db.flush()

    async def attempt() -> None:
        try:
            async with loop_session_factory(read_engine)() as session:
                await LoopReader(session).run(write)
        finally:
            await read_engine.dispose()

    with pytest.raises(ReadOnlySessionError):
        asyncio.run(attempt())
