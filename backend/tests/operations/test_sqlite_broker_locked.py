"""The embedded default's SQLite broker survives a database that is locked for a moment: the
failed read is a connection error Celery retries, and the broker's session stays usable (it
was left half-committed, and the worker stopped with "Unrecoverable error")."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection
from sqlalchemy.exc import OperationalError

from app.core.broker import SqliteTransport


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Connection]:
    with Connection(
        f"sqlite:///{tmp_path / 'broker.db'}",
        transport=SqliteTransport,
        transport_options={"connect_args": {"timeout": 0.2}},
    ) as connection:
        yield connection


def test_a_commit_refused_by_a_locked_database_fails_one_read_and_the_next_delivers(
    broker: Connection, tmp_path: Path
) -> None:
    queue = broker.SimpleQueue("jobs")
    queue.put({"job": 1})
    reader = sqlite3.connect(tmp_path / "broker.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM kombu_message").fetchall()  # holds a shared lock
    try:
        with pytest.raises(OperationalError, match="locked"):
            queue.get(block=False)
    finally:
        reader.execute("ROLLBACK")
        reader.close()

    message = queue.get(timeout=2)
    assert message.payload == {"job": 1}
    message.ack()
    queue.close()
