"""Tickets, their analyses and processing logs read as plain rows for the read routes.

The list and detail pages show stored values only: reading them as ORM objects (identity
map, instance state, attribute instrumentation, then Pydantic reading every attribute back)
cost more CPU than the queries. Here they are selected column by column and handed over as
dicts in the API's field names, which the response models validate directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Enum,
    Integer,
    Row,
    Select,
    String,
    bindparam,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from app.database import execute_core
from app.models import ProcessingLog, Ticket, TicketAnalysis
from app.schemas import AnalysisOut, ProcessingLogOut, TicketOut

# The columns each read shows: the fields of the response models, in their order.
TICKET_FIELDS = tuple(TicketOut.model_fields)
ANALYSIS_FIELDS = tuple(AnalysisOut.model_fields)
LOG_FIELDS = tuple(ProcessingLogOut.model_fields)

# A ticket's detail shows its newest processing logs, up to this many.
LOG_LIMIT = 100

_TICKET_WIDTH = len(TICKET_FIELDS)
_ANALYSIS_END = _TICKET_WIDTH + 1 + len(ANALYSIS_FIELDS)


def stored(column: Column[Any]) -> ColumnElement[Any]:
    """`column` as read for a response: an enum column as its stored value, a string the
    response model turns into the enum (in compiled code), rather than each cell converted
    by SQLAlchemy in Python first."""
    return type_coerce(column, String()) if isinstance(column.type, Enum) else column


def ticket_and_analysis_columns() -> list[ColumnElement[Any]]:
    """The ticket's columns, whether it has an analysis, then the analysis's columns (to be
    outer-joined): the layout `ticket_item` reads."""
    ticket = [stored(Ticket.__table__.c[name]).label(name) for name in TICKET_FIELDS]
    has_analysis = TicketAnalysis.id.label("analysis__id")
    analysis = [
        stored(TicketAnalysis.__table__.c[name]).label(f"analysis__{name}")
        for name in ANALYSIS_FIELDS
    ]
    return [*ticket, has_analysis, *analysis]


def ticket_item(row: Row[Any] | Sequence[Any]) -> dict[str, Any]:
    """A row laid out by `ticket_and_analysis_columns` as the API's ticket, with its
    `analysis` (None when the ticket has none)."""
    item = dict(zip(TICKET_FIELDS, row[:_TICKET_WIDTH], strict=True))
    has_analysis = row[_TICKET_WIDTH] is not None
    values = row[_TICKET_WIDTH + 1 : _ANALYSIS_END]
    item["analysis"] = dict(zip(ANALYSIS_FIELDS, values, strict=True)) if has_analysis else None
    return item


def ticket_detail(db: Session, *, user_id: int, zendesk_ticket_id: int) -> dict[str, Any] | None:
    """The user's stored ticket with its analysis and its newest processing logs, as the
    detail page shows them; None when it was never stored."""
    found = execute_core(
        db, _detail_statement(), {"user_id": user_id, "zendesk_ticket_id": zendesk_ticket_id}
    ).first()
    if found is None:
        return None
    item = ticket_item(found)
    logs = execute_core(db, _logs_statement(), {"ticket_id": item["id"], "limit": LOG_LIMIT})
    analysis = item.pop("analysis")
    return {
        "ticket": item,
        "analysis": analysis,
        "logs": [dict(zip(LOG_FIELDS, log, strict=True)) for log in logs],
    }


@lru_cache(maxsize=1)
def _detail_statement() -> Select[Any]:
    return (
        select(*ticket_and_analysis_columns())
        .outerjoin(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
        .where(
            Ticket.user_id == bindparam("user_id"),
            Ticket.zendesk_ticket_id == bindparam("zendesk_ticket_id"),
        )
    )


@lru_cache(maxsize=1)
def _logs_statement() -> Select[Any]:
    return (
        select(*(stored(ProcessingLog.__table__.c[name]).label(name) for name in LOG_FIELDS))
        .where(ProcessingLog.ticket_id == bindparam("ticket_id"))
        .order_by(ProcessingLog.created_at.desc(), ProcessingLog.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )
