"""SystemMetrics rollups: kept current on write, rebuildable, equal to the raw rows."""

from __future__ import annotations

import contextlib
import io
import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from app import unit_of_work
from app.accounts.users import create_user
from app.analytics import rollups as metrics_rollup
from app.analytics import rollups_write
from app.database import session_scope
from app.enums import AnalysisRoute, AnalysisSource, Category, Sentiment, Urgency
from app.models import SystemMetrics, Ticket, TicketAnalysis, User, utcnow
from app.pipeline import store as ticket_store
from app.pipeline.analysis import AnalysisOutcome
from tests.factories import create_analysed_ticket

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def user(db: Session) -> User:
    return create_user(
        db=db, email=f"rollup{random.randrange(10**9)}@example.com", password="x" * 8
    )


def rollup_rows(db: Session, user: User) -> dict[date, dict[str, Any]]:
    db.expire_all()
    rows = db.scalars(select(SystemMetrics).where(SystemMetrics.user_id == user.id))
    return {
        row.day: {
            "tickets_processed": row.tickets_processed,
            "total_processing_ms": row.total_processing_ms,
            "total_cost_usd": Decimal(row.total_cost_usd).quantize(Decimal("0.000001")),
            "category_counts": row.category_counts,
            "urgency_counts": row.urgency_counts,
            "sentiment_counts": row.sentiment_counts,
            "source_counts": row.source_counts,
        }
        for row in rows
    }


def outcome(category: Category = Category.bug, cost: str = "0.002") -> AnalysisOutcome:
    return AnalysisOutcome(
        category=category,
        urgency=Urgency.high,
        sentiment=Sentiment.negative,
        confidence=0.8,
        category_confidence=None,
        urgency_confidence=None,
        sentiment_confidence=None,
        language="en",
        summary="Summary",
        reply_draft=None,
        suggested_tags=[],
        source=AnalysisSource.llm,
        decision_reason="test",
        route=AnalysisRoute.llm,
        cost_usd=Decimal(cost),
    )


def expected_rollups(specs: list[dict[str, Any]], zone: ZoneInfo) -> dict[date, dict[str, Any]]:
    """What the rollups must hold, computed independently from what the test created."""
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for spec in specs:
        by_day[spec["created_at"].astimezone(zone).date()].append(spec)
    expected = {}
    for day, day_specs in by_day.items():
        row: dict[str, Any] = {
            "tickets_processed": len(day_specs),
            "total_processing_ms": sum(spec["processing_time_ms"] for spec in day_specs),
            "total_cost_usd": sum((Decimal(spec["cost_usd"]) for spec in day_specs), Decimal(0)),
        }
        for name, labels in metrics_rollup.COUNTED_FIELDS.items():
            counts = Counter(spec[name] for spec in day_specs)
            row[f"{name}_counts"] = {label: counts[label] for label in labels}
        expected[day] = row
    return expected


def test_rollups_equal_the_raw_counts(db: Session, user: User) -> None:
    user.timezone = "Europe/Berlin"
    db.flush()
    rng = random.Random(7)
    start = datetime(2025, 3, 24, 18, tzinfo=UTC)  # spans the switch to summer time
    specs = [
        {
            "created_at": start + timedelta(minutes=rng.randrange(0, 10 * 24 * 60)),
            "category": rng.choice(list(Category)).value,
            "urgency": rng.choice(list(Urgency)).value,
            "sentiment": rng.choice(list(Sentiment)).value,
            "source": rng.choice(list(AnalysisSource)).value,
            "cost_usd": f"0.{rng.randrange(0, 10**6):06d}",
            "processing_time_ms": rng.randrange(50, 5000),
        }
        for _ in range(120)
    ]
    specs.append({**specs[0], "created_at": datetime(2025, 3, 29, 23, 30, tzinfo=UTC)})
    specs.append({**specs[0], "created_at": datetime(2025, 3, 30, 22, 30, tzinfo=UTC)})
    for spec in specs:
        create_analysed_ticket(db, user, **spec)
    unit_of_work.commit(db)

    expected = expected_rollups(specs, BERLIN)
    on_write = rollup_rows(db, user)
    assert on_write == expected
    assert sum(row["tickets_processed"] for row in on_write.values()) == len(specs)

    db.execute(delete(SystemMetrics).where(SystemMetrics.user_id == user.id))
    written = rollups_write.rebuild(
        db, user_id=user.id, first_day=date(2025, 3, 20), last_day=date(2025, 4, 10)
    )
    assert written == len(expected)
    assert rollup_rows(db, user) == expected


def test_saving_an_analysis_updates_its_day_when_the_transaction_commits(
    db: Session, user: User
) -> None:
    ticket = Ticket(user_id=user.id, zendesk_ticket_id=1, subject="Broken")
    db.add(ticket)
    db.flush()
    analysis = ticket_store.save_analysis(
        db=db, ticket=ticket, outcome=outcome(), processing_time_ms=40
    )
    with db.begin_nested():  # a savepoint released before the final values are set
        analysis.processing_time_ms = 55
    assert rollup_rows(db, user) == {}
    analysis.processing_time_ms = 120  # the pipeline records the total time after writing back
    unit_of_work.commit(db)
    today = analysis.created_at.date()
    row = rollup_rows(db, user)[today]
    assert (row["tickets_processed"], row["total_processing_ms"]) == (1, 120)
    assert row["category_counts"]["bug"] == 1

    ticket_store.save_analysis(  # reprocessing updates the analysis in place
        db=db, ticket=ticket, outcome=outcome(Category.billing, "0.005"), processing_time_ms=80
    )
    unit_of_work.commit(db)
    row = rollup_rows(db, user)[today]
    assert row["tickets_processed"] == 1
    assert row["total_cost_usd"] == Decimal("0.005")
    assert row["category_counts"] == {**dict.fromkeys(row["category_counts"], 0), "billing": 1}


def rebuilt(db: Session, user: User) -> dict[date, dict[str, Any]]:
    """The user's rollups recomputed from the raw rows (in a savepoint, rolled back)."""
    with db.begin_nested() as savepoint:
        rollups_write.rebuild_user(db, user_id=user.id)
        rows = rollup_rows(db, user)
        savepoint.rollback()
    return rows


def test_every_orm_change_to_an_analysis_moves_the_rollups_with_it(db: Session, user: User) -> None:
    day = datetime(2025, 3, 10, 12, tzinfo=UTC)
    analyses = [
        create_analysed_ticket(db, user, created_at=day + timedelta(minutes=n), cost_usd="0.004")
        for n in range(5)
    ]
    unit_of_work.commit(db)
    relabelled, moved, deleted, unloaded, untouched = analyses
    relabelled.category, relabelled.cost_usd = Category.billing, Decimal("0.010")
    moved.created_at = day + timedelta(days=1)
    db.delete(deleted)
    db.expire(unloaded, ["urgency"])  # its old value is not known: the day is recounted
    unloaded.urgency = Urgency.high
    untouched.summary = "a field the rollups do not count"
    unit_of_work.commit(db)

    rows = rollup_rows(db, user)
    assert rows == rebuilt(db, user)
    assert {key: row["tickets_processed"] for key, row in rows.items()} == {
        date(2025, 3, 10): 3,
        date(2025, 3, 11): 1,
    }
    assert rows[date(2025, 3, 10)]["total_cost_usd"] == Decimal("0.018")
    assert rows[date(2025, 3, 10)]["urgency_counts"]["high"] == 1


def test_a_rolled_back_transaction_leaves_the_rollups_alone(db: Session, user: User) -> None:
    unit_of_work.commit(db)  # the user stays
    create_analysed_ticket(db, user, created_at=datetime(2025, 3, 10, tzinfo=UTC))
    db.rollback()
    create_analysed_ticket(db, user, created_at=datetime(2025, 3, 12, tzinfo=UTC))
    unit_of_work.commit(db)
    assert list(rollup_rows(db, user)) == [date(2025, 3, 12)]
    assert rollup_rows(db, user) == rebuilt(db, user)


def test_changing_the_time_zone_rebuilds_the_users_rollups(db: Session, user: User) -> None:
    create_analysed_ticket(db, user, created_at=datetime(2025, 3, 10, 23, 30, tzinfo=UTC))
    unit_of_work.commit(db)
    assert list(rollup_rows(db, user)) == [date(2025, 3, 10)]
    user.timezone = "Europe/Berlin"
    unit_of_work.commit(db)
    assert list(rollup_rows(db, user)) == [date(2025, 3, 11)]


def test_a_day_without_analyses_has_no_row(db: Session, user: User) -> None:
    analysis = create_analysed_ticket(db, user, created_at=datetime(2025, 3, 10, tzinfo=UTC))
    unit_of_work.commit(db)
    db.execute(delete(TicketAnalysis).where(TicketAnalysis.id == analysis.id))
    rollups_write.recompute_day(db, user_id=user.id, day=date(2025, 3, 10), zone=ZoneInfo("UTC"))
    assert rollup_rows(db, user) == {}


def test_offset_segments_find_the_dst_transitions() -> None:
    segments = metrics_rollup._offset_segments(
        BERLIN, datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert segments == [
        (datetime(2025, 3, 30, 1, tzinfo=UTC), 3600),
        (datetime(2025, 10, 26, 1, tzinfo=UTC), 7200),
        (datetime(2026, 1, 1, tzinfo=UTC), 3600),
    ]


@pytest.mark.postgres_only  # SQLite serialises writers: nothing to race
def test_concurrent_writers_to_one_day_lose_no_counts(engine: Engine) -> None:
    with session_scope() as db:
        owner = create_user(
            db=db, email=f"race{random.randrange(10**9)}@example.com", password="x" * 8
        )
    moment = datetime(2025, 3, 10, 12, tzinfo=UTC)

    def writer(worker: int) -> None:
        for n in range(10):
            with session_scope() as db:
                user = db.get(User, owner.id)
                assert user is not None
                create_analysed_ticket(
                    db, user, created_at=moment, zendesk_ticket_id=worker * 100 + n
                )

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(writer, range(8)))
        with session_scope() as db:
            user = db.get(User, owner.id)
            assert user is not None
            rows = rollup_rows(db, user)
            assert rows[date(2025, 3, 10)]["tickets_processed"] == 80
            assert rows == rebuilt(db, user)
    finally:
        with session_scope() as db:
            db.execute(delete(User).where(User.id == owner.id))


@pytest.mark.postgres_only  # SQLite serialises writers: nothing to race
def test_racing_reanalyses_of_one_ticket_take_out_what_is_stored(engine: Engine) -> None:
    with session_scope() as db:
        owner = create_user(
            db=db, email=f"re{random.randrange(10**9)}@example.com", password="x" * 8
        )
        ticket_id = create_analysed_ticket(
            db, owner, created_at=datetime(2025, 3, 10, tzinfo=UTC)
        ).ticket_id
    first_saved, may_commit = threading.Event(), threading.Event()

    def reanalyse(category: Category, cost: str, hold: bool) -> None:
        with session_scope() as db:
            ticket = db.get(Ticket, ticket_id)
            assert ticket is not None
            ticket_store.save_analysis(
                db=db, ticket=ticket, outcome=outcome(category, cost), processing_time_ms=10
            )
            if hold:  # still uncommitted while the other re-analysis reads the analysis
                first_saved.set()
                may_commit.wait(5)

    try:
        first = threading.Thread(target=reanalyse, args=(Category.billing, "0.002", True))
        first.start()
        assert first_saved.wait(5)
        second = threading.Thread(target=reanalyse, args=(Category.feature, "0.003", False))
        second.start()
        time.sleep(0.3)
        may_commit.set()
        first.join(10)
        second.join(10)
        with session_scope() as db:
            user = db.get(User, owner.id)
            assert user is not None
            row = rollup_rows(db, user)[date(2025, 3, 10)]
            assert row["tickets_processed"] == 1 and row["total_cost_usd"] == Decimal("0.003")
            assert row["category_counts"] == {
                **dict.fromkeys(row["category_counts"], 0),
                "feature": 1,
            }
            assert rollup_rows(db, user) == rebuilt(db, user)
    finally:
        with session_scope() as db:
            db.execute(delete(User).where(User.id == owner.id))


def test_reconciling_recent_days_repairs_what_a_bulk_write_left_wrong(
    db: Session, user: User
) -> None:
    now = utcnow()
    create_analysed_ticket(db, user, created_at=now - timedelta(hours=1))
    create_analysed_ticket(db, user, created_at=now - timedelta(days=1, hours=1))
    unit_of_work.commit(db)
    right = rollup_rows(db, user)
    assert sum(row["tickets_processed"] for row in right.values()) == 2
    db.execute(  # bulk SQL that bypasses the ORM: the rollups do not follow
        update(SystemMetrics).where(SystemMetrics.user_id == user.id).values(tickets_processed=9)
    )
    assert rollups_write.reconcile_recent(db, now=now) >= 1
    assert rollup_rows(db, user) == right


def test_rebuild_command_rewrites_a_range_of_days(committed_user: User) -> None:
    created = datetime(2025, 3, 10, 12, tzinfo=UTC)
    with session_scope() as db:
        create_analysed_ticket(db, committed_user, created_at=created)
    with session_scope() as db:
        db.execute(delete(SystemMetrics).where(SystemMetrics.user_id == committed_user.id))
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        rollups_write.main(
            ["--start", "2025-03-01", "--end", "2025-03-31", "--user-id", str(committed_user.id)]
        )
    assert output.getvalue().strip() == "rollup_rows_written=1"
    with session_scope() as db:
        assert list(rollup_rows(db, committed_user)) == [date(2025, 3, 10)]
