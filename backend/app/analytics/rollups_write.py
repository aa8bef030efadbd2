"""Keeping the daily rollups equal to the raw analyses: deltas recorded as analyses are
flushed and applied by the unit of work's commit step (`unit_of_work.commit` calls
`apply_pending`; a bare `Session.commit` applies nothing), a rebuild of any range from the
raw rows, and a reconciliation of recent days (beat) that repairs whatever slipped past.

    python -m app.analytics.rollups_write --start 2026-11-01 --end 2026-11-30 [--user-id 7]

rebuilds that range of local days (every user by default).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, delete, event, func, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, object_session
from sqlalchemy.sql.dml import Insert

from app.analytics.rollups import (
    COUNTED_FIELDS,
    TRACKED_FIELDS,
    Contribution,
    Totals,
    day_start,
    local_day,
    raw_buckets,
    raw_columns,
    rollup_columns,
    user_zone,
)
from app.models import SystemMetrics, TicketAnalysis, User, utcnow

REBUILD_CHUNK_DAYS = 366
RECONCILE_DAYS = 3
_PENDING_KEY = "metrics_rollup.pending"
_REBUILD_KEY = "metrics_rollup.rebuild_users"
_RECOUNT_KEY = "metrics_rollup.recount"


# --- keeping rollups current ---------------------------------------------------------------


def _before_change(analysis: TicketAnalysis) -> Contribution | Literal["unknown"] | None:
    """What a modified analysis counted before this flush: None when no tracked field
    changed, "unknown" when an old value was not loaded."""
    state = inspect(analysis)
    if state.committed_state.keys().isdisjoint(TRACKED_FIELDS):
        return None  # no tracked field was set (the write-back's fields, say): no history walk
    attrs = state.attrs
    histories = {name: attrs[name].history for name in TRACKED_FIELDS}
    if not any(history.has_changes() for history in histories.values()):
        return None
    old: dict[str, Any] = {}
    for name, history in histories.items():
        if history.has_changes():
            if not history.deleted:
                return "unknown"
            old[name] = history.deleted[0]
        else:
            old[name] = history.unchanged[0] if history.unchanged else getattr(analysis, name)
    return Contribution.from_values(old)


@event.listens_for(Session, "after_flush")
def _record_analysis_changes(session: Session, _context: Any) -> None:
    """Every analysis written through the ORM, whatever the path: its delta for its day
    (new: added; changed: old values out, new in; deleted: taken away)."""
    deltas: list[tuple[Contribution, int]] = []
    for analysis in session.new:
        if isinstance(analysis, TicketAnalysis):
            deltas.append((Contribution.of(analysis), 1))
    for analysis in session.dirty:
        if isinstance(analysis, TicketAnalysis):
            before = _before_change(analysis)
            if before == "unknown":
                recount = session.info.setdefault(_RECOUNT_KEY, set())
                recount.add((analysis.user_id, analysis.created_at))
            elif before is not None:
                deltas += [(before, -1), (Contribution.of(analysis), 1)]
    for analysis in session.deleted:
        if isinstance(analysis, TicketAnalysis):
            deltas.append((Contribution.of(analysis), -1))
    if deltas:
        session.info.setdefault(_PENDING_KEY, []).extend(deltas)


def record_inserted(db: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Analyses inserted with Core (no flush sees them): their deltas, for the commit step.
    Each row holds the analysis's column values (TRACKED_FIELDS at least)."""
    added = [(Contribution.from_values(row), 1) for row in rows]
    if added:
        db.info.setdefault(_PENDING_KEY, []).extend(added)


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, previous_transaction: Any) -> None:
    """Deltas of a transaction that rolled back must not reach the next one."""
    if not previous_transaction.nested:
        for key in (_PENDING_KEY, _RECOUNT_KEY, _REBUILD_KEY):
            session.info.pop(key, None)


def apply_pending(db: Session) -> None:
    """Apply this session's recorded deltas: the commit step of every unit of work, and
    before reading rollups."""
    db.flush()  # changes not flushed yet have no delta recorded
    rebuild_users: set[int] = db.info.pop(_REBUILD_KEY, set())
    pending: list[tuple[Contribution, int]] = db.info.pop(_PENDING_KEY, [])
    for user_id in sorted(rebuild_users):
        rebuild_user(db, user_id=user_id)
    zones: dict[int, ZoneInfo] = {}
    deltas: dict[tuple[int, date], Totals] = {}
    for contribution, sign in pending:
        user_id = contribution.user_id
        if user_id in rebuild_users:
            continue  # the rebuild read the raw rows, this analysis included
        zone = _zone(db, zones, user_id)
        if zone is None:
            continue
        key = (user_id, local_day(contribution.created_at, zone))
        deltas[key] = deltas.get(key, Totals()) + Totals.of(contribution, sign)
    recount: set[tuple[int, date]] = set()
    for user_id, created_at in db.info.pop(_RECOUNT_KEY, set()):
        if user_id not in rebuild_users and (zone := _zone(db, zones, user_id)) is not None:
            recount.add((user_id, local_day(created_at, zone)))
    for key in sorted(set(deltas) | recount):  # one lock order for every writer: no deadlocks
        user_id, day = key
        if key in recount:
            recompute_day(db, user_id=user_id, day=day, zone=zones[user_id])
        else:
            add_to_day(db, user_id=user_id, day=day, delta=deltas[key])


def _zone(db: Session, zones: dict[int, ZoneInfo], user_id: int) -> ZoneInfo | None:
    if user_id not in zones:
        user = db.get(User, user_id)
        if user is None:
            return None
        zones[user_id] = user_zone(user)
    return zones[user_id]


def add_to_day(db: Session, *, user_id: int, day: date, delta: Totals) -> None:
    """Change one (user, local day) row by `delta`; the row goes when it counts nothing."""
    _lock_day(db, user_id, day)
    row = db.execute(_day_row(), {"rollup_user_id": user_id, "rollup_day": day}).one()
    totals = Totals.from_row(row) + delta
    if totals.tickets > 0:
        _upsert(db, [_row_values(user_id, day, totals)])
    else:
        db.execute(
            delete(SystemMetrics).where(SystemMetrics.user_id == user_id, SystemMetrics.day == day)
        )


@event.listens_for(User.timezone, "set")
def _timezone_changed(user: User, value: str, oldvalue: Any, _initiator: Any) -> None:
    session = object_session(user)
    if session is not None and user.id is not None and value != oldvalue:
        session.info.setdefault(_REBUILD_KEY, set()).add(user.id)


def _lock_day(db: Session, user_id: int, day: date) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.execute(
            text("SELECT pg_advisory_xact_lock(:user_id, :day)"),
            {"user_id": user_id, "day": day.toordinal()},
        )


def _row_values(user_id: int, day: date, totals: Totals) -> dict[str, Any]:
    values: dict[str, Any] = {
        "user_id": user_id,
        "day": day,
        "tickets_processed": totals.tickets,
        "total_processing_ms": totals.processing_ms,
        "total_cost_usd": totals.cost_usd,
        "updated_at": utcnow(),
    }
    for name in COUNTED_FIELDS:
        values[f"{name}_counts"] = totals.counts[name]
    return values


@cache
def _day_row() -> Select[Any]:
    """One (user, day) rollup row's totals, built once: the statement's two dozen JSON
    expressions cost more CPU to build than the query takes to run, at every commit."""
    return select(*rollup_columns()).where(
        SystemMetrics.user_id == bindparam("rollup_user_id"),
        SystemMetrics.day == bindparam("rollup_day"),
    )


@cache
def _upsert_statement(dialect: str, keys: tuple[str, ...]) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SystemMetrics)
    updated = {key: statement.excluded[key] for key in keys if key not in ("user_id", "day")}
    return statement.on_conflict_do_update(index_elements=["user_id", "day"], set_=updated)


def _upsert(db: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    db.execute(_upsert_statement(db.get_bind().dialect.name, tuple(rows[0])), rows)


def recompute_day(db: Session, *, user_id: int, day: date, zone: ZoneInfo) -> None:
    """Recompute one (user, local day) row from the raw analyses; no row for an empty day."""
    _lock_day(db, user_id, day)
    row = db.execute(
        select(*raw_columns()).where(
            TicketAnalysis.user_id == user_id,
            TicketAnalysis.created_at >= day_start(day, zone),
            TicketAnalysis.created_at < day_start(day + timedelta(days=1), zone),
        )
    ).one()
    totals = Totals.from_row(row)
    if totals.tickets:
        _upsert(db, [_row_values(user_id, day, totals)])
    else:
        db.execute(
            delete(SystemMetrics).where(SystemMetrics.user_id == user_id, SystemMetrics.day == day)
        )


def _forget_deltas(
    db: Session, user_id: int, on_day: Callable[[datetime], bool] = lambda _moment: True
) -> None:
    """A rebuild reads the raw rows, this transaction's changes included (flushed first):
    the deltas recorded for the days it rewrites would count them twice."""
    db.flush()
    pending: list[tuple[Contribution, int]] = db.info.get(_PENDING_KEY, [])
    pending[:] = [
        (contribution, sign)
        for contribution, sign in pending
        if contribution.user_id != user_id or not on_day(contribution.created_at)
    ]
    recount: set[tuple[int, datetime]] = db.info.get(_RECOUNT_KEY, set())
    recount -= {(user, moment) for user, moment in recount if user == user_id and on_day(moment)}


def rebuild(db: Session, *, user_id: int, first_day: date, last_day: date) -> int:
    """Rebuild the user's rollups for local days [first_day, last_day]; returns rows written."""
    user = db.get(User, user_id)
    if user is None:
        return 0
    zone = user_zone(user)
    _forget_deltas(db, user_id, lambda moment: first_day <= local_day(moment, zone) <= last_day)
    written = 0
    chunk_start = first_day
    while chunk_start <= last_day:
        chunk_end = min(chunk_start + timedelta(days=REBUILD_CHUNK_DAYS - 1), last_day)
        db.execute(
            delete(SystemMetrics).where(
                SystemMetrics.user_id == user_id,
                SystemMetrics.day >= chunk_start,
                SystemMetrics.day <= chunk_end,
            )
        )
        span = (day_start(chunk_start, zone), day_start(chunk_end + timedelta(days=1), zone))
        rows = [
            _row_values(user_id, day, totals)
            for day, totals in raw_buckets(db, user_id=user_id, zone=zone, ranges=[span])
        ]
        _upsert(db, rows)
        written += len(rows)
        chunk_start = chunk_end + timedelta(days=1)
    return written


def rebuild_user(db: Session, *, user_id: int) -> int:
    """Rebuild every rollup of a user (after a time zone change or a bulk import)."""
    _forget_deltas(db, user_id)
    db.execute(delete(SystemMetrics).where(SystemMetrics.user_id == user_id))
    first, last = db.execute(
        select(func.min(TicketAnalysis.created_at), func.max(TicketAnalysis.created_at)).where(
            TicketAnalysis.user_id == user_id
        )
    ).one()
    user = db.get(User, user_id)
    if first is None or user is None:
        return 0
    zone = user_zone(user)
    return rebuild(
        db, user_id=user_id, first_day=local_day(first, zone), last_day=local_day(last, zone)
    )


def reconcile_recent(
    db: Session, *, days: int = RECONCILE_DAYS, now: datetime | None = None
) -> int:
    """Recompute the last `days` local days of every user with analyses in them from the raw
    rows (what a bulk write that bypassed the ORM, or a lost delta, left wrong); returns how
    many users were reconciled."""
    since = (now or utcnow()) - timedelta(days=days + 1)  # +1: any zone's local day
    user_ids = db.scalars(
        select(TicketAnalysis.user_id).where(TicketAnalysis.created_at >= since).distinct()
    ).all()
    for user_id in sorted(user_ids):
        user = db.get(User, user_id)
        if user is None:
            continue
        today = local_day(now or utcnow(), user_zone(user))
        rebuild(db, user_id=user_id, first_day=today - timedelta(days=days), last_day=today)
    return len(user_ids)


def rebuild_range(
    db: Session, *, first_day: date, last_day: date, user_id: int | None = None
) -> int:
    """Rebuild local days [first_day, last_day] of one user or of every user; rows written."""
    query = select(User.id).order_by(User.id)
    if user_id is not None:
        query = query.where(User.id == user_id)
    return sum(
        rebuild(db, user_id=uid, first_day=first_day, last_day=last_day)
        for uid in db.scalars(query).all()
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rebuild daily rollups from the raw analyses")
    parser.add_argument("--start", type=date.fromisoformat, required=True, help="first local day")
    parser.add_argument("--end", type=date.fromisoformat, required=True, help="last local day")
    parser.add_argument("--user-id", type=int, help="one user (default: every user)")
    args = parser.parse_args(argv)
    if args.start > args.end:
        parser.error("--start must not be after --end")
    from app.database import session_scope

    with session_scope() as db:
        written = rebuild_range(db, first_day=args.start, last_day=args.end, user_id=args.user_id)
    print(f"rollup_rows_written={written}")


if __name__ == "__main__":
    main()
