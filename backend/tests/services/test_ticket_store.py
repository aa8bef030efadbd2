"""Ticket upserts racing other workers (committed rows: each worker has its own session)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, func, insert, select

from app.accounts.users import create_user
from app.database import session_scope
from app.models import Ticket, User
from app.pipeline import store as ticket_store


@pytest.fixture
def user_id(engine: Engine) -> Iterator[int]:
    with session_scope() as db:
        user = create_user(
            db=db, email=f"store-{time.monotonic_ns()}@example.com", password="store-password"
        )
    yield user.id
    with session_scope() as db:
        db.execute(delete(User).where(User.id == user.id))


def raw(ticket_id: int, subject: str) -> dict[str, Any]:
    return {"id": ticket_id, "subject": subject, "description": "body", "status": "open"}


@contextmanager
def insert_before_our_insert(engine: Engine, user_id: int, zendesk_id: int) -> Iterator[None]:
    """Another worker commits the same ticket between our lookup and our INSERT."""
    raced = False

    @event.listens_for(engine, "before_cursor_execute")
    def other_worker(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal raced
        if raced or not statement.lstrip().upper().startswith("INSERT INTO TICKETS "):
            return
        raced = True
        with engine.begin() as other:
            other.execute(
                insert(Ticket).values(
                    user_id=user_id, zendesk_ticket_id=zendesk_id, subject="theirs", tags=[]
                )
            )

    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", other_worker)


@pytest.mark.postgres_only  # SQLite serialises writers: there is no race to lose
def test_upsert_tickets_losing_an_insert_race_updates_the_winners_row(
    engine: Engine, user_id: int
) -> None:
    with session_scope() as db, insert_before_our_insert(engine, user_id, 501):
        ticket_ids = ticket_store.upsert_tickets(
            db=db, user_id=user_id, raws=[raw(501, "ours 501"), raw(502, "ours 502")]
        )
        stored = db.execute(
            select(Ticket.id, Ticket.zendesk_ticket_id).where(Ticket.user_id == user_id)
        ).all()
        assert ticket_ids == {zendesk_id: ticket_id for ticket_id, zendesk_id in stored}
    with session_scope() as db:
        rows = db.execute(
            select(Ticket.zendesk_ticket_id, Ticket.subject, func.count())
            .where(Ticket.user_id == user_id)
            .group_by(Ticket.zendesk_ticket_id, Ticket.subject)
            .order_by(Ticket.zendesk_ticket_id)
        ).all()
    assert [tuple(row) for row in rows] == [(501, "ours 501", 1), (502, "ours 502", 1)]


@pytest.mark.postgres_only  # SQLite serialises writers: there is no race to lose
def test_upsert_ticket_losing_an_insert_race_updates_the_winners_row(
    engine: Engine, user_id: int
) -> None:
    with session_scope() as db, insert_before_our_insert(engine, user_id, 601):
        ticket = ticket_store.upsert_ticket(db=db, user_id=user_id, raw=raw(601, "ours"))
        assert ticket.subject == "ours"
    with session_scope() as db:
        subjects = db.scalars(select(Ticket.subject).where(Ticket.user_id == user_id)).all()
    assert subjects == ["ours"]
