"""Ticket and analysis persistence: upserts and the queries the API lists and filters by."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.analytics import report_cache, rollups_write
from app.analytics.rollups import COUNTED_FIELDS, MONEY_QUANTUM
from app.database import execute_core
from app.errors import Unprocessable
from app.models import Ticket, TicketAnalysis, utcnow
from app.pipeline.analysis import AnalysisOutcome

MAX_BIGINT = 2**63 - 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class StoredTicket(NamedTuple):
    """A stored ticket's ids: all that saving its analysis needs (no row loaded)."""

    id: int
    user_id: int


class UnstorableTicket(Unprocessable):
    """A ticket from Zendesk with a value no column can hold: that ticket fails alone."""

    code = "unstorable_ticket"


def clean_text(value: Any, limit: int | None = None) -> str:
    """Text from outside: PostgreSQL stores neither NUL characters nor lone surrogates
    (JSON may carry both, escaped); NULs are dropped, surrogates become U+FFFD."""
    text = _LONE_SURROGATE.sub("\ufffd", str(value or "").replace("\x00", ""))
    return text[:limit] if limit else text


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def ticket_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """Our columns from a Zendesk ticket object; UnstorableTicket for a value that fits none."""
    requester = raw.get("requester_id")
    if isinstance(requester, int) and not -MAX_BIGINT - 1 <= requester <= MAX_BIGINT:
        raise UnstorableTicket(
            f"Ticket {raw.get('id')} cannot be stored: its requester_id {requester} is "
            "beyond 64 bits",
            details=[{"loc": ["ticket", "requester_id"], "msg": "beyond 64 bits"}],
        )
    return {
        "subject": clean_text(raw.get("subject") or raw.get("raw_subject"), 500),
        "description": clean_text(raw.get("description")),
        "status": clean_text(raw.get("status"), 16) or None,
        "priority": clean_text(raw.get("priority"), 16) or None,
        "ticket_type": clean_text(raw.get("type"), 16) or None,
        "requester_id": int(requester) if isinstance(requester, int) else None,
        "tags": [clean_text(tag, 80) for tag in raw.get("tags") or []],
        "zendesk_created_at": _parse_time(raw.get("created_at")),
        "zendesk_updated_at": _parse_time(raw.get("updated_at")),
    }


def get_ticket(*, db: Session, user_id: int, zendesk_ticket_id: int) -> Ticket | None:
    """The user's stored ticket."""
    return db.scalar(
        _ticket_statement(), {"user_id": user_id, "zendesk_ticket_id": zendesk_ticket_id}
    )


@lru_cache(maxsize=1)
def _ticket_statement() -> Select[tuple[Ticket]]:
    return select(Ticket).where(
        Ticket.user_id == bindparam("user_id"),
        Ticket.zendesk_ticket_id == bindparam("zendesk_ticket_id"),
    )


def upsert_ticket(*, db: Session, user_id: int, raw: dict[str, Any]) -> Ticket:
    zendesk_ticket_id = int(raw["id"])
    fields = ticket_fields(raw)
    ticket = get_ticket(db=db, user_id=user_id, zendesk_ticket_id=zendesk_ticket_id)
    if ticket is None:
        ticket = Ticket(user_id=user_id, zendesk_ticket_id=zendesk_ticket_id, **fields)
        try:
            with db.begin_nested():
                db.add(ticket)
                db.flush()
            return ticket
        except IntegrityError:  # stored concurrently by another worker: update that row
            ticket = get_ticket(db=db, user_id=user_id, zendesk_ticket_id=zendesk_ticket_id)
            assert ticket is not None
    for name, value in fields.items():
        setattr(ticket, name, value)
    db.flush()
    return ticket


def upsert_tickets(*, db: Session, user_id: int, raws: list[dict[str, Any]]) -> dict[int, int]:
    """Store many Zendesk tickets (the new ones with one Core INSERT: the ORM's unit of work
    cost several times more CPU); their ticket ids keyed by Zendesk id."""
    wanted = {int(raw["id"]): raw for raw in raws}
    if not wanted:
        return {}
    existing = {
        ticket.zendesk_ticket_id: ticket
        for ticket in db.scalars(
            select(Ticket).where(
                Ticket.user_id == user_id, Ticket.zendesk_ticket_id.in_(list(wanted))
            )
        )
    }
    stamps = {"user_id": user_id, "created_at": utcnow(), "updated_at": utcnow()}
    new_rows = [
        {**stamps, "zendesk_ticket_id": zendesk_ticket_id, **ticket_fields(raw)}
        for zendesk_ticket_id, raw in wanted.items()
        if zendesk_ticket_id not in existing
    ]
    try:
        with db.begin_nested():
            ids = {}
            if new_rows:
                table = Ticket.__table__
                inserted = db.execute(
                    insert(table).returning(table.c.zendesk_ticket_id, table.c.id), new_rows
                )
                ids = {zendesk_ticket_id: ticket_id for zendesk_ticket_id, ticket_id in inserted}
            for zendesk_ticket_id, ticket in existing.items():
                for name, value in ticket_fields(wanted[zendesk_ticket_id]).items():
                    setattr(ticket, name, value)
                ids[zendesk_ticket_id] = ticket.id
    except IntegrityError:  # another worker stored some of them first: go one by one
        return {int(raw["id"]): upsert_ticket(db=db, user_id=user_id, raw=raw).id for raw in raws}
    if new_rows:
        report_cache.forget_users([user_id])  # no flush saw these rows
    return ids


def save_analyses(
    *, db: Session, results: list[tuple[Ticket | StoredTicket, AnalysisOutcome, int]]
) -> None:
    """Create or update the analyses of many tickets with one lookup, one INSERT and one flush.

    Every save path (single ticket, batch jobs, webhook and polling intake, LLM Batch API
    results) goes through here. Existing analyses are read with their rows locked (in id
    order, one order for every writer), so what a re-analysis takes out of the daily rollups
    is what is stored, not a value another transaction has since replaced. An analysis
    another worker created meanwhile is updated instead (its LLM answer is not wasted).
    New analyses are inserted with Core (the ORM's unit of work cost several times more CPU
    for a batch of them); their rollup deltas are recorded here, since no flush sees them.
    """
    if not results:
        return
    try:
        with db.begin_nested():
            _save_analyses(db, results)
    except IntegrityError:  # another worker created some of them first: now they exist
        _save_analyses(db, results)


def _save_analyses(
    db: Session, results: list[tuple[Ticket | StoredTicket, AnalysisOutcome, int]]
) -> None:
    ticket_ids = [ticket.id for ticket, _, _ in results]
    analyses = {
        analysis.ticket_id: analysis
        for analysis in db.scalars(
            select(TicketAnalysis)
            .where(TicketAnalysis.ticket_id.in_(ticket_ids))
            .order_by(TicketAnalysis.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    for ticket, outcome, processing_time_ms in results:
        values = _analysis_values(outcome, processing_time_ms)
        analysis = analyses.get(ticket.id)
        if analysis is None:
            row = {"ticket_id": ticket.id, "user_id": ticket.user_id, "created_at": now}
            new_rows.append({**row, **values, "updated_at": now})
            continue
        for name, value in values.items():
            setattr(analysis, name, value)
    if new_rows:  # first: a refused INSERT (a lost race) leaves no delta recorded
        db.execute(insert(TicketAnalysis.__table__), new_rows)
    db.flush()  # rollups_write records the updates' deltas; the unit of work's commit applies them
    if new_rows:
        rollups_write.record_inserted(db, new_rows)
        report_cache.forget_users(row["user_id"] for row in new_rows)


def _analysis_values(outcome: AnalysisOutcome, processing_time_ms: int) -> dict[str, Any]:
    values = {name: getattr(outcome, name) for name in ANALYSIS_FIELDS}
    values["summary"] = clean_text(values["summary"], 300)
    values["suggested_tags"] = [clean_text(tag, 80) for tag in values["suggested_tags"] or []]
    values["decision_reason"] = clean_text(values["decision_reason"], 200) or None
    # Stored as PostgreSQL's NUMERIC(14, 6) would round it, on SQLite too, so that sums of
    # stored costs and the daily rollups' running totals agree to the micro-dollar.
    values["cost_usd"] = Decimal(str(values["cost_usd"] or 0)).quantize(MONEY_QUANTUM)
    if values["reply_draft"] is not None:
        values["reply_draft"] = clean_text(values["reply_draft"], 600)
    values["processing_time_ms"] = processing_time_ms
    return values


def get_analysis(*, db: Session, ticket_id: int) -> TicketAnalysis | None:
    return db.scalar(select(TicketAnalysis).where(TicketAnalysis.ticket_id == ticket_id))


ANALYSIS_FIELDS = (
    "category",
    "urgency",
    "sentiment",
    "confidence",
    "category_confidence",
    "urgency_confidence",
    "sentiment_confidence",
    "language",
    "summary",
    "reply_draft",
    "suggested_tags",
    "source",
    "decision_reason",
    "route",
    "model",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "cost_usd",
    "pii_redactions",
)


def save_analysis(
    *, db: Session, ticket: Ticket, outcome: AnalysisOutcome, processing_time_ms: int
) -> TicketAnalysis:
    """Create or update the ticket's one analysis (reprocessing never duplicates)."""
    save_analyses(db=db, results=[(ticket, outcome, processing_time_ms)])
    return db.scalars(select(TicketAnalysis).where(TicketAnalysis.ticket_id == ticket.id)).one()


def summary_stats(*, db: Session, user_id: int) -> dict[str, Any]:
    """Totals and label counts (labels with none left out) in one query: the label counts
    are filtered COUNTs of one scan rather than a GROUP BY query per field."""
    values = execute_core(db, _summary_statement(), {"user_id": user_id}).one()._mapping
    total_tickets = values["total_tickets"] or 0

    def counts(name: str) -> dict[str, int]:
        found = ((label, int(values[f"{name}__{label}"])) for label in COUNTED_FIELDS[name])
        return {label: count for label, count in found if count}

    return {
        "total_tickets": int(total_tickets),
        "analysed_tickets": int(values["analysed"]),
        "total_cost_usd": values["cost"],
        "average_processing_time_ms": (
            float(values["average_ms"]) if values["average_ms"] is not None else None
        ),
        "by_category": counts("category"),
        "by_urgency": counts("urgency"),
        "by_sentiment": counts("sentiment"),
        "by_source": counts("source"),
    }


@lru_cache(maxsize=1)
def _summary_statement() -> Select[Any]:
    """Built once (its cache key too): the user's ticket count and their analyses' totals."""
    user_id = bindparam("user_id")
    total_tickets = select(func.count(Ticket.id)).where(Ticket.user_id == user_id)
    return select(
        total_tickets.scalar_subquery().label("total_tickets"),
        func.count(TicketAnalysis.id).label("analysed"),
        func.coalesce(func.sum(TicketAnalysis.cost_usd), 0).label("cost"),
        func.avg(TicketAnalysis.processing_time_ms).label("average_ms"),
        *(
            func.count().filter(getattr(TicketAnalysis, name) == label).label(f"{name}__{label}")
            for name, labels in COUNTED_FIELDS.items()
            for label in labels
        ),
    ).where(TicketAnalysis.user_id == user_id)
