"""Read routes' sessions: no transaction around a read on PostgreSQL, no write lock on
SQLite, no writes anywhere, and a pooled connection goes back to transactions afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.database import (
    ReadOnlySessionError,
    make_engine,
    read_session_factory_for,
    session_factory_for,
)
from app.models import User
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file with a `notes` table (SQLite needs no server: both passes run these)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'reads.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
    yield engine
    engine.dispose()


@pytest.fixture
def single_connection_engine(engine: Engine, sqlite_engine: Engine) -> Iterator[Engine]:
    """The test database's engine with one pooled connection and a `notes` table."""
    if engine.dialect.name == "sqlite":
        yield sqlite_engine
        return
    single = make_engine(TEST_DATABASE_URL, pool_size=1, max_overflow=0)
    with single.begin() as connection:  # a temporary table: the one connection's own
        connection.execute(text("CREATE TEMPORARY TABLE notes (body TEXT)"))
    yield single
    single.dispose()


def test_a_read_session_refuses_to_write(single_connection_engine: Engine) -> None:
    with read_session_factory_for(single_connection_engine)() as session:
        session.add(User(email="nobody@example.com", hashed_password="x"))
        with pytest.raises(ReadOnlySessionError):
            session.flush()


@pytest.mark.postgres_only
def test_on_postgresql_each_statement_of_a_read_is_its_own_transaction(
    single_connection_engine: Engine,
) -> None:
    """No BEGIN before the first statement, so no COMMIT at the end either."""
    with read_session_factory_for(single_connection_engine)() as session:
        session.execute(text("SELECT pg_sleep(0.01)"))
        assert session.execute(text("SELECT now() = statement_timestamp()")).scalar()


def test_the_connection_a_read_used_goes_back_to_transactions(
    single_connection_engine: Engine,
) -> None:
    with read_session_factory_for(single_connection_engine)() as session:
        assert session.execute(text("SELECT count(*) FROM notes")).scalar() == 0
    with session_factory_for(single_connection_engine)() as writer:
        writer.execute(text("INSERT INTO notes (body) VALUES ('rolled back')"))
        writer.rollback()
        assert writer.execute(text("SELECT count(*) FROM notes")).scalar() == 0


def test_on_sqlite_a_read_in_progress_does_not_hold_the_write_lock(
    sqlite_engine: Engine,
) -> None:
    with read_session_factory_for(sqlite_engine)() as reader:
        assert reader.execute(text("SELECT count(*) FROM notes")).scalar() == 0
        with session_factory_for(sqlite_engine)() as writer, writer.begin():
            # BEGIN IMMEDIATE: it would wait for a reader holding the write lock.
            writer.execute(text("INSERT INTO notes (body) VALUES ('written')"))
