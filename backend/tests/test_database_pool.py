"""Pooled PostgreSQL connections are checked at checkout without a round trip: one the
server closed is replaced (the caller never sees it), one idle for a while is pinged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from app.database import make_engine
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def pool_engine() -> Iterator[Engine]:
    if not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.skip("the pool checks apply to a server database")
    engine = make_engine(TEST_DATABASE_URL, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    pings: list[Any] = []
    real_ping = engine.dialect.do_ping

    def recording_ping(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", recording_ping)
    return pings


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_the_server_terminated_is_replaced_at_checkout(pool_engine: Engine) -> None:
    first_pid = backend_pid(pool_engine)
    admin_engine = make_engine(TEST_DATABASE_URL)
    with admin_engine.connect() as admin:
        terminated = admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
        assert terminated.scalar_one() is True
        admin.commit()
        # pg_terminate_backend only signals the backend: wait until it has exited (and so
        # closed its socket), as it has by the time a restart or a proxy reset is over.
        deadline = time.monotonic() + 10
        while admin.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": first_pid}
        ).scalar_one():
            admin.commit()  # a new snapshot of pg_stat_activity
            assert time.monotonic() < deadline, "the terminated backend did not exit"
            time.sleep(0.01)
    admin_engine.dispose()
    # No error for the caller: the dead pooled connection is swapped for a new one.
    second_pid = backend_pid(pool_engine)
    assert second_pid != first_pid
    assert backend_pid(pool_engine) == second_pid  # and that one is kept


def test_a_connection_used_moments_ago_is_handed_out_without_a_ping(
    pool_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = count_pings(pool_engine, monkeypatch)
    pids = {backend_pid(pool_engine) for _ in range(5)}
    assert len(pids) == 1
    assert pings == []


def test_a_connection_idle_past_the_limit_is_pinged_before_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.skip("the pool checks apply to a server database")
    engine = make_engine(TEST_DATABASE_URL, pool_size=1, max_overflow=0, ping_after_idle_s=0)
    try:
        pings = count_pings(engine, monkeypatch)
        first_pid = backend_pid(engine)
        assert backend_pid(engine) == first_pid
        assert len(pings) == 1  # the second checkout, of a connection idle "too long"
    finally:
        engine.dispose()
