"""The dashboard's fixed-shape queries, each built once with bound parameters.

Building a SELECT of a score of aggregate columns and then deriving its cache key (a walk
over every column, to find the compiled SQL) cost more CPU than running it: a quarter of
a dashboard request. A statement object built once keeps its cache key, so these are
built at first use and executed with their values as parameters. Statements are
immutable: sharing them between threads is safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select

from app.analytics.rollups import TimeRange, raw_columns, rollup_columns
from app.models import SystemMetrics, Ticket, TicketAnalysis

RATED_FIELDS = ("category", "urgency", "sentiment")


@lru_cache(maxsize=1)
def rollup_totals() -> Select[Any]:
    """Totals over the rollups of days [first_day, end_day)."""
    return select(*rollup_columns()).where(
        SystemMetrics.user_id == bindparam("user_id"),
        SystemMetrics.day >= bindparam("first_day"),
        SystemMetrics.day < bindparam("end_day"),
    )


@lru_cache(maxsize=4)
def raw_totals(ranges: int) -> Select[Any]:
    """Totals over the analyses inside `ranges` time ranges (see range_values)."""
    created_at = TicketAnalysis.created_at
    return select(*raw_columns()).where(
        TicketAnalysis.user_id == bindparam("user_id"),
        or_(
            *[
                and_(created_at >= bindparam(f"start_{i}"), created_at < bindparam(f"end_{i}"))
                for i in range(ranges)
            ]
        ),
    )


def range_values(ranges: Sequence[TimeRange]) -> dict[str, Any]:
    """raw_totals' parameters for `ranges`."""
    values: dict[str, Any] = {}
    for index, (start, end) in enumerate(ranges):
        values[f"start_{index}"] = start
        values[f"end_{index}"] = end
    return values


@lru_cache(maxsize=1)
def rollup_processed() -> Select[Any]:
    """Analyses of the rollup days [earliest, today) since week_first and month_first."""
    processed = SystemMetrics.tickets_processed
    return select(
        func.coalesce(func.sum(processed).filter(SystemMetrics.day >= bindparam("week_first")), 0),
        func.coalesce(func.sum(processed).filter(SystemMetrics.day >= bindparam("month_first")), 0),
    ).where(
        SystemMetrics.user_id == bindparam("user_id"),
        SystemMetrics.day >= bindparam("earliest"),
        SystemMetrics.day < bindparam("today"),
    )


@lru_cache(maxsize=1)
def processed_since() -> Select[Any]:
    """Analyses created at or after `since`."""
    return select(func.count()).where(
        TicketAnalysis.user_id == bindparam("user_id"),
        TicketAnalysis.created_at >= bindparam("since"),
    )


@lru_cache(maxsize=1)
def processed_with_rollups() -> Select[Any]:
    """rollup_processed's two sums and processed_since's count in one round trip."""
    past = rollup_processed().subquery()
    return select(*past.c, processed_since().scalar_subquery())


@lru_cache(maxsize=1)
def raw_processed() -> Select[Any]:
    """Analyses since the starts of today, the week and the month, from the raw rows."""
    created_at = TicketAnalysis.created_at
    return select(
        func.count().filter(created_at >= bindparam("today_start")),
        func.count().filter(created_at >= bindparam("week_start")),
        func.count().filter(created_at >= bindparam("month_start")),
    ).where(
        TicketAnalysis.user_id == bindparam("user_id"),
        created_at >= bindparam("earliest_start"),
    )


@lru_cache(maxsize=1)
def accuracy() -> Select[Any]:
    """Per rated field: analyses rated and those the rating agrees with, in [start, end)."""
    columns = [func.count().label("rated_tickets")]
    for name in RATED_FIELDS:
        predicted = getattr(TicketAnalysis, name)
        feedback = getattr(TicketAnalysis, f"feedback_{name}")
        columns.append(func.count(feedback).label(f"{name}_rated"))
        columns.append(func.count().filter(feedback == predicted).label(f"{name}_correct"))
    return select(*columns).where(
        TicketAnalysis.user_id == bindparam("user_id"),
        TicketAnalysis.feedback_at.is_not(None),
        TicketAnalysis.created_at >= bindparam("start"),
        TicketAnalysis.created_at < bindparam("end"),
    )


@lru_cache(maxsize=4)
def recent(limit: int) -> Select[Any]:
    """The last `limit` analyses in [start, end) with their ticket's id and subject."""
    return (
        select(
            Ticket.zendesk_ticket_id,
            Ticket.subject,
            TicketAnalysis.category,
            TicketAnalysis.urgency,
            TicketAnalysis.sentiment,
            TicketAnalysis.confidence,
            TicketAnalysis.source,
            TicketAnalysis.summary,
            TicketAnalysis.created_at.label("analysed_at"),
        )
        .join(Ticket, Ticket.id == TicketAnalysis.ticket_id)
        .where(
            TicketAnalysis.user_id == bindparam("user_id"),
            TicketAnalysis.created_at >= bindparam("start"),
            TicketAnalysis.created_at < bindparam("end"),
        )
        .order_by(TicketAnalysis.created_at.desc(), TicketAnalysis.id.desc())
        .limit(limit)
    )
