"""Analytics over a user's analyses, aggregated in SQL; agents' feedback for accuracy.

A period is [start, end) in UTC; its days are the local days of the requested time zone.
In the user's saved time zone, complete past days come from the SystemMetrics rollups and
the partial days at either end (today included) from the raw rows; in any other time
zone everything is aggregated from the raw rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analysis import learning
from app.analytics import rollups as metrics_rollup
from app.analytics import rollups_write, statements
from app.analytics.rollups import (
    MONEY_QUANTUM,
    Interval,
    TimeRange,
    Totals,
    day_start,
    local_day,
    week_start,
)
from app.core.time_zones import time_zone_error
from app.database import execute_core
from app.enums import Category, Sentiment, Urgency
from app.errors import NotFound, Unprocessable
from app.models import Ticket, TicketAnalysis, User, utcnow

DEFAULT_SPAN = timedelta(days=30)
MAX_SPAN = timedelta(days=366)
# Room for local days, week starts and the default span around any accepted instant.
EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)
RECENT_LIMIT = 10
RATED_FIELDS = statements.RATED_FIELDS


@dataclass(frozen=True)
class Window:
    """A validated period: [start, end) in UTC, the zone of its days, and `now`."""

    user_id: int
    start: datetime
    end: datetime
    zone: ZoneInfo
    now: datetime
    use_rollups: bool

    def period(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "timezone": self.zone.key}


OUT_OF_RANGE = "outside the supported range of dates (years 2 to 9998)"


def to_utc(moment: datetime, zone: ZoneInfo, name: str) -> datetime:
    """An instant from the query in UTC; a naive datetime is a wall-clock time in `zone`.
    Instants too close to the ends of the calendar to compute with are a 422."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as exc:
        raise Unprocessable(f"{name}: {OUT_OF_RANGE}") from exc
    if not EARLIEST <= moment <= LATEST:
        raise Unprocessable(f"{name}: {OUT_OF_RANGE}")
    return moment


def resolve_window(
    *,
    user: User,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str | None = None,
    now: datetime | None = None,
) -> Window:
    """Defaults (end = now, start = end - 30 days) and checks; bad input is a 422."""
    zone_name = tz if tz is not None else user.timezone
    # The zones PUT /settings/ accepts, with its message: "localtime" and the like are not.
    message = time_zone_error(zone_name)
    if message is not None:
        raise Unprocessable(
            f"tz: {message}",
            details=[{"loc": ["query", "tz"], "msg": message, "type": "time_zone"}],
        )
    zone = ZoneInfo(zone_name)
    now = now or utcnow()
    end_utc = to_utc(end, zone, "end") if end is not None else now
    start_utc = to_utc(start, zone, "start") if start is not None else end_utc - DEFAULT_SPAN
    if start_utc > end_utc:
        raise Unprocessable("start must not be after end")
    if end_utc - start_utc > MAX_SPAN:
        raise Unprocessable("the period must not span more than 366 days")
    return Window(
        user_id=user.id,
        start=start_utc,
        end=end_utc,
        zone=zone,
        now=now,
        use_rollups=zone.key == user.timezone,
    )


def _split(window: Window) -> tuple[tuple[date, date] | None, list[TimeRange]]:
    """Complete past local days [first, end) served by rollups, and the raw ranges left."""
    if window.start >= window.end:
        return None, []
    whole = [(window.start, window.end)]
    if not window.use_rollups:
        return None, whole
    zone = window.zone
    first = local_day(window.start, zone)
    if day_start(first, zone) < window.start:
        first += timedelta(days=1)
    end_day = min(local_day(window.end, zone), local_day(window.now, zone))
    if first >= end_day:
        return None, whole
    ranges = []
    if window.start < day_start(first, zone):
        ranges.append((window.start, day_start(first, zone)))
    if day_start(end_day, zone) < window.end:
        ranges.append((day_start(end_day, zone), window.end))
    return (first, end_day), ranges


def _prepare(db: Session) -> None:
    """Rollups this session made stale are brought up to date before they are read."""
    rollups_write.apply_pending(db)


def period_totals(db: Session, window: Window) -> Totals:
    """Counts, time, cost and label counts over the period."""
    _prepare(db)
    full_days, ranges = _split(window)
    totals = Totals()
    if full_days is not None:
        first, end_day = full_days
        row = execute_core(
            db,
            statements.rollup_totals(),
            {"user_id": window.user_id, "first_day": first, "end_day": end_day},
        ).one()
        totals += Totals.from_row(row)
    if ranges:
        row = execute_core(
            db,
            statements.raw_totals(len(ranges)),
            {"user_id": window.user_id, **statements.range_values(ranges)},
        ).one()
        totals += Totals.from_row(row)
    return totals


def _bucket_keys(window: Window, interval: Interval) -> list[date]:
    if window.start >= window.end:
        return []
    first = local_day(window.start, window.zone)
    last = local_day(window.end - timedelta(microseconds=1), window.zone)
    step = timedelta(days=1)
    if interval == "week":
        first, last, step = week_start(first), week_start(last), timedelta(days=7)
    keys = []
    while first <= last:
        keys.append(first)
        first += step
    return keys


def _trend_point(key: date, totals: Totals) -> dict[str, Any]:
    return {
        "period_start": key,
        "tickets": totals.tickets,
        "total_cost_usd": totals.cost_usd,
        "average_processing_time_ms": (
            round(totals.processing_ms / totals.tickets, 1) if totals.tickets else None
        ),
    }


def trend(db: Session, window: Window, interval: Interval = "day") -> list[dict[str, Any]]:
    """One point per local day or week of the period, empty buckets included."""
    return trend_points(window, interval, period_buckets(db, window, interval))


def trend_points(
    window: Window, interval: Interval, buckets: dict[date, Totals]
) -> list[dict[str, Any]]:
    empty = Totals()  # read only: one for every bucket without analyses
    return [_trend_point(key, buckets.get(key, empty)) for key in _bucket_keys(window, interval)]


def period_buckets(
    db: Session, window: Window, interval: Interval, *, with_counts: bool = False
) -> dict[date, Totals]:
    """The period's totals per local day or week: rollups for its whole days, the analyses
    themselves for the part-days at its edges; with `with_counts`, label counts too."""
    _prepare(db)
    full_days, ranges = _split(window)
    buckets: dict[date, Totals] = defaultdict(Totals)
    if full_days is not None:
        for key, totals in metrics_rollup.rollup_buckets(
            db,
            user_id=window.user_id,
            first_day=full_days[0],
            end_day=full_days[1],
            interval=interval,
            with_counts=with_counts,
        ):
            buckets[key] += totals
    if ranges:
        for key, totals in metrics_rollup.raw_buckets(
            db,
            user_id=window.user_id,
            zone=window.zone,
            ranges=ranges,
            interval=interval,
            with_counts=with_counts,
        ):
            buckets[key] += totals
    return buckets


def distribution(totals: Totals, field_name: str) -> dict[str, Any]:
    counts = totals.counts[field_name]
    return {
        "total": totals.tickets,
        "items": [
            {
                "label": label,
                "count": count,
                "percentage": round(100 * count / totals.tickets, 1) if totals.tickets else 0.0,
            }
            for label, count in counts.items()
        ],
    }


def processed_counts(db: Session, window: Window) -> dict[str, int]:
    """Analyses since the start of today, this week and this month (local), up to now."""
    _prepare(db)
    zone = window.zone
    today = local_day(window.now, zone)
    week_first, month_first = week_start(today), today.replace(day=1)
    earliest = min(week_first, month_first)
    if window.use_rollups:
        week, month, today_count = execute_core(
            db,
            statements.processed_with_rollups(),
            {
                "user_id": window.user_id,
                "week_first": week_first,
                "month_first": month_first,
                "earliest": earliest,
                "today": today,
                "since": day_start(today, zone),
            },
        ).one()
        today_count = int(today_count or 0)
        return {
            "today": today_count,
            "this_week": today_count + int(week),
            "this_month": today_count + int(month),
        }
    row = execute_core(
        db,
        statements.raw_processed(),
        {
            "user_id": window.user_id,
            "today_start": day_start(today, zone),
            "week_start": day_start(week_first, zone),
            "month_start": day_start(month_first, zone),
            "earliest_start": day_start(earliest, zone),
        },
    ).one()
    return {"today": int(row[0]), "this_week": int(row[1]), "this_month": int(row[2])}


def accuracy(db: Session, window: Window) -> dict[str, Any]:
    """Per field: the share of analyses with feedback for it that agree with the feedback."""
    row = execute_core(
        db,
        statements.accuracy(),
        {"user_id": window.user_id, "start": window.start, "end": window.end},
    ).one()
    result: dict[str, Any] = {"rated_tickets": int(row.rated_tickets)}
    for name in RATED_FIELDS:
        rated, correct = int(row._mapping[f"{name}_rated"]), int(row._mapping[f"{name}_correct"])
        result[name] = {
            "rated": rated,
            "correct": correct,
            "accuracy": round(correct / rated, 4) if rated else None,
        }
    return result


def recent_tickets(db: Session, window: Window, limit: int = RECENT_LIMIT) -> list[Any]:
    """The last analyses of the period with their ticket's id and subject."""
    return list(
        execute_core(
            db,
            statements.recent(limit),
            {"user_id": window.user_id, "start": window.start, "end": window.end},
        ).all()
    )


def dashboard(db: Session, window: Window) -> dict[str, Any]:
    # The daily trend's buckets, label counts included, add up to the period's totals: two
    # queries fewer than period_totals and trend each asking the database.
    days = period_buckets(db, window, "day", with_counts=True)
    totals = sum(days.values(), Totals())
    tickets = totals.tickets
    return {
        "period": window.period(),
        "processed": processed_counts(db, window),
        "tickets": tickets,
        "average_processing_time_ms": (
            round(totals.processing_ms / tickets, 1) if tickets else None
        ),
        "total_cost_usd": totals.cost_usd,
        "average_cost_usd": (totals.cost_usd / tickets).quantize(MONEY_QUANTUM)
        if tickets
        else None,
        "categories": distribution(totals, "category"),
        "urgencies": distribution(totals, "urgency"),
        "sentiments": distribution(totals, "sentiment"),
        "sources": distribution(totals, "source"),
        "daily_trend": trend_points(window, "day", days),
        "accuracy": accuracy(db, window),
        "recent_tickets": recent_tickets(db, window),
    }


def distribution_report(db: Session, window: Window, field_name: str) -> dict[str, Any]:
    return {
        "period": window.period(),
        "distribution": distribution(period_totals(db, window), field_name),
    }


# --- feedback ---------------------------------------------------------------------------------


def record_feedback(
    *,
    db: Session,
    user_id: int,
    zendesk_ticket_id: int,
    category: Category | None = None,
    urgency: Urgency | None = None,
    sentiment: Sentiment | None = None,
) -> dict[str, Any]:
    """Store an agent's correct labels on the ticket's analysis (given fields only) and as
    the user's training row; when that completes a batch of new labels, the user's retrain
    is enqueued, sent after the caller's commit."""
    ticket = db.scalar(
        select(Ticket).where(
            Ticket.user_id == user_id, Ticket.zendesk_ticket_id == zendesk_ticket_id
        )
    )
    analysis = (
        db.scalar(select(TicketAnalysis).where(TicketAnalysis.ticket_id == ticket.id))
        if ticket
        else None
    )
    if ticket is None or analysis is None:
        raise NotFound(f"Ticket {zendesk_ticket_id} has no analysis to give feedback on")
    if category is not None:
        analysis.feedback_category = category
    if urgency is not None:
        analysis.feedback_urgency = urgency
    if sentiment is not None:
        analysis.feedback_sentiment = sentiment
    analysis.feedback_at = utcnow()
    db.flush()
    retrain_due = learning.record_feedback_example(db=db, user_id=user_id, ticket_id=ticket.id)
    result = {
        "zendesk_ticket_id": ticket.zendesk_ticket_id,
        "category": analysis.category,
        "urgency": analysis.urgency,
        "sentiment": analysis.sentiment,
        "feedback_category": analysis.feedback_category,
        "feedback_urgency": analysis.feedback_urgency,
        "feedback_sentiment": analysis.feedback_sentiment,
        "feedback_at": analysis.feedback_at,
    }
    if retrain_due:
        learning.enqueue_retrain(db=db, user_id=user_id)
    return result
