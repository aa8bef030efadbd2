"""The embedded default's SQLite keeps a unit of work atomic: savepoints stay inside the
transaction and DDL is transactional (SQLAlchemy's pysqlite recipe in app.database), and
concurrent writers wait for each other instead of failing.

These tests open their own SQLite file and commit for real: no outer transaction of the
`db` fixture hides what a failed commit leaves behind. They run in every pass of the suite.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.migrations import upgrade_head
from app.database import make_engine, session_factory_for
from app.enums import AnalysisSource, Category, Sentiment, Urgency
from app.models import SystemMetrics, Ticket, TicketAnalysis, User


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'atomicity.db'}")
    with engine.connect() as connection:
        upgrade_head(connection)
    yield engine
    engine.dispose()


@pytest.fixture
def user_id(sqlite_engine: Engine) -> int:
    with Session(sqlite_engine) as session:
        user = User(email="atomic@example.com", hashed_password="-")
        session.add(user)
        session.commit()
        return user.id


def analysed_ticket(session: Session, user_id: int, zendesk_ticket_id: int) -> None:
    ticket = Ticket(user_id=user_id, zendesk_ticket_id=zendesk_ticket_id, subject="Refund")
    session.add(ticket)
    session.flush()
    session.add(
        TicketAnalysis(
            ticket_id=ticket.id,
            user_id=user_id,
            category=Category.billing,
            urgency=Urgency.medium,
            sentiment=Sentiment.neutral,
            source=AnalysisSource.local,
        )
    )


def stored(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return (
            session.scalar(select(func.count()).select_from(Ticket)) or 0,
            session.scalar(select(func.count()).select_from(TicketAnalysis)) or 0,
            session.scalar(select(func.count()).select_from(SystemMetrics)) or 0,
        )


def test_a_failed_commit_leaves_neither_the_analysis_nor_its_rollup(
    sqlite_engine: Engine, user_id: int
) -> None:
    with Session(sqlite_engine) as session:
        with session.begin_nested():  # released before the commit, as the pipeline does
            analysed_ticket(session, user_id, zendesk_ticket_id=1)
        session.add(
            SystemMetrics(user_id=user_id, day=datetime.now(UTC).date(), tickets_processed=1)
        )
        session.add(Ticket(user_id=user_id, zendesk_ticket_id=1))  # a duplicate: commit fails
        with pytest.raises(IntegrityError):
            session.commit()

    assert stored(sqlite_engine) == (0, 0, 0)


def test_a_rolled_back_savepoint_keeps_the_rest_of_the_unit_of_work(
    sqlite_engine: Engine, user_id: int
) -> None:
    with Session(sqlite_engine) as session:
        analysed_ticket(session, user_id, zendesk_ticket_id=1)
        savepoint = session.begin_nested()
        analysed_ticket(session, user_id, zendesk_ticket_id=2)
        savepoint.rollback()
        session.commit()

    tickets, analyses, _rollups = stored(sqlite_engine)
    assert (tickets, analyses) == (1, 1)


def test_ddl_rolls_back_with_its_transaction(sqlite_engine: Engine) -> None:
    with pytest.raises(RuntimeError), sqlite_engine.begin() as connection:
        connection.execute(text("CREATE TABLE half_done (id INTEGER PRIMARY KEY)"))
        raise RuntimeError("the migration fails after its first step")

    assert "half_done" not in inspect(sqlite_engine).get_table_names()


def test_a_transaction_that_read_first_still_writes_while_another_connection_writes(
    sqlite_engine: Engine, user_id: int
) -> None:
    """The app's sessions begin IMMEDIATE: a deferred one would fail its first write at
    once ("database is locked") once another connection committed after its first read."""
    app_sessions = session_factory_for(sqlite_engine)
    other_committed = threading.Event()

    def other_writer() -> None:
        with app_sessions() as other:
            other.add(Ticket(user_id=user_id, zendesk_ticket_id=2))
            other.commit()
        other_committed.set()

    with app_sessions() as session:
        session.scalar(select(func.count()).select_from(Ticket))
        writer = threading.Thread(target=other_writer)
        writer.start()
        other_committed.wait(timeout=0.5)  # it waits for our lock instead of committing
        session.add(Ticket(user_id=user_id, zendesk_ticket_id=1))
        session.commit()
    writer.join(timeout=30)

    assert other_committed.is_set()
    assert stored(sqlite_engine)[0] == 2
