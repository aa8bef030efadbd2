"""Ticket and analysis persistence: upserts and the queries the API lists and filters by."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, joinedload

from app.analytics import report_cache, rollups_write
from app.analytics.rollups import COUNTED_FIELDS, MONEY_QUANTUM
from app.errors import Unprocessable
from app.models import ProcessingLog, Ticket, TicketAnalysis, utcnow
from app.pipeline.analysis import AnalysisOutcome

MAX_BIGINT = 2**63 - 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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


def get_ticket(
    *, db: Session, user_id: int, zendesk_ticket_id: int, with_analysis: bool = False
) -> Ticket | None:
    """The user's stored ticket; `with_analysis` loads its analysis in the same query."""
    return db.scalar(
        _ticket_statement(with_analysis),
        {"user_id": user_id, "zendesk_ticket_id": zendesk_ticket_id},
    )


@lru_cache(maxsize=2)
def _ticket_statement(with_analysis: bool) -> Select[tuple[Ticket]]:
    query = select(Ticket).where(
        Ticket.user_id == bindparam("user_id"),
        Ticket.zendesk_ticket_id == bindparam("zendesk_ticket_id"),
    )
    if not with_analysis:
        return query
    # With its analysis: for the detail page, whose answer has no description (an e-mail
    # body, often kilobytes); it loads if read.
    return query.options(joinedload(Ticket.analysis), defer(Ticket.description))


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


def save_analyses(*, db: Session, results: list[tuple[Ticket, AnalysisOutcome, int]]) -> None:
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


def _save_analyses(db: Session, results: list[tuple[Ticket, AnalysisOutcome, int]]) -> None:
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


def logs_for(*, db: Session, ticket_id: int, limit: int = 100) -> list[ProcessingLog]:
    return list(db.scalars(_logs_statement(limit), {"ticket_id": ticket_id}))


@lru_cache(maxsize=4)
def _logs_statement(limit: int) -> Select[tuple[ProcessingLog]]:
    return (
        select(ProcessingLog)
        .where(ProcessingLog.ticket_id == bindparam("ticket_id"))
        .order_by(ProcessingLog.created_at.desc(), ProcessingLog.id.desc())
        .limit(limit)
    )


SORTS = {
    "updated_at": Ticket.updated_at,
    "created_at": Ticket.zendesk_created_at,
    "zendesk_ticket_id": Ticket.zendesk_ticket_id,
    "subject": Ticket.subject,
}


LABEL_FILTERS = ("category", "urgency", "sentiment", "source")


def filter_values(
    *,
    user_id: int,
    category: str | None = None,
    urgency: str | None = None,
    sentiment: str | None = None,
    status: str | None = None,
    source: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    text: str | None = None,
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The list filters given (their shape: which ones, and whether the search has a
    number to look up) and the statement parameters that carry their values."""
    given = {
        "category": category,
        "urgency": urgency,
        "sentiment": sentiment,
        "source": source,
        "status": status,
        "start": start,
        "end": end,
    }
    params: dict[str, Any] = {"user_id": user_id}
    shape = [name for name, value in given.items() if value is not None]
    params.update((name, given[name]) for name in shape)
    if text:
        shape.append("text")
        params["pattern"] = _contains(text)
        probe = number_probe(text)
        if probe is not None:
            shape.append("probe")
            params["probe"] = _contains(probe)
    return tuple(shape), params


# The list's statements are built once per shape of filters and sort, with the values as
# bound parameters: a statement object keeps its cache key, so a request neither builds the
# SELECT nor derives its key again (a good share of a list request's CPU).
@lru_cache(maxsize=512)
def ticket_query(shape: tuple[str, ...]) -> Select[tuple[Ticket]]:
    """The user's tickets matching the filters of `shape` (see filter_values)."""
    query = select(Ticket).where(Ticket.user_id == bindparam("user_id"))
    labels = [name for name in shape if name in LABEL_FILTERS]
    if labels:
        query = query.join(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
        for name in labels:
            query = query.where(getattr(TicketAnalysis, name) == bindparam(name))
    if "status" in shape:
        query = query.where(Ticket.status == bindparam("status"))
    if "start" in shape:
        query = query.where(Ticket.updated_at >= bindparam("start"))
    if "end" in shape:
        query = query.where(Ticket.updated_at < bindparam("end"))
    if "text" in shape:
        query = query.where(*subject_search("probe" in shape))
    return query


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def subject_search(probe: bool) -> list[Any]:
    """The search text (`pattern`) anywhere in the subject, case-insensitively.

    A trigram index reads the list of rows of every trigram of the pattern, and a common
    word's trigrams list most rows: "order 4242" spent 50 ms on those of "order" where
    "4242" alone takes a millisecond. So in a text of several words with a number (an
    order or ticket number), the index looks up only the number (`probe`, with the
    character before it, which marks where it starts), and the whole text is checked on
    the rows found, written so that the index cannot take it (`subject || ''`). Same
    matches; only the plan differs.
    """
    if not probe:
        return [Ticket.subject.ilike(bindparam("pattern"), escape="\\")]
    whole = (Ticket.subject + "").ilike(bindparam("pattern"), escape="\\")
    return [Ticket.subject.ilike(bindparam("probe"), escape="\\"), whole]


def number_probe(text: str) -> str | None:
    """In a text of several words, the word with the most digits (2 or more) and the
    character before it; None when there is no such word."""
    words = [(match.start(), match.group()) for match in re.finditer(r"\S+", text)]
    if len(words) < 2:
        return None
    digits, start, word = max((sum(c.isdigit() for c in w), -s, w) for s, w in words)
    if digits < 2:
        return None
    start = -start
    return text[start - 1 : start + len(word)] if start > 0 else word


# A list page's total is counted exactly up to this many tickets (or up to the end of the
# page asked for, when that is further); past it the answer says "more than": an exact count
# of a few hundred thousand matches costs far more than the page itself.
TOTAL_COUNT_CAP = 10_000
# A subject search tests every candidate row's text: its count stops sooner.
TEXT_COUNT_CAP = 1_000


def count_tickets(*, db: Session, user_id: int, limit: int | None = None, **filters: Any) -> int:
    """The total for a list page, from the narrowest table that can answer it; with `limit`,
    counting stops there (a result equal to `limit` means "at least that many").

    Label filters alone are counted on ticket_analyses (its (user_id, label) indexes) rather
    than over the tickets join, which on a million rows is the difference between a few and
    several hundred milliseconds.
    """
    shape, params = filter_values(user_id=user_id, **filters)
    if limit is not None:
        params["limit"] = limit
    return int(db.scalar(_count_statement(shape, limit is not None), params) or 0)


@lru_cache(maxsize=512)
def _count_statement(shape: tuple[str, ...], limited: bool) -> Select[Any]:
    query: Select[Any]
    if shape and set(shape) <= set(LABEL_FILTERS):
        query = select(TicketAnalysis.id).where(TicketAnalysis.user_id == bindparam("user_id"))
        for name in shape:
            query = query.where(getattr(TicketAnalysis, name) == bindparam(name))
    else:
        query = ticket_query(shape).with_only_columns(Ticket.id)
    if limited:
        query = query.limit(bindparam("limit", type_=Integer))
    return select(func.count()).select_from(query.subquery())


@lru_cache(maxsize=512)
def _page_statement(shape: tuple[str, ...], sort: str) -> Select[tuple[Ticket]]:
    descending = sort.startswith("-")
    column = SORTS[sort.lstrip("-")]
    order = (column.desc(), Ticket.id.desc()) if descending else (column.asc(), Ticket.id.asc())
    # The page's ids first, its analyses joined after: joined before the LIMIT, every match
    # would be joined (11,000 index lookups for a search matching 1 % of a million tickets).
    page_ids = (
        ticket_query(shape)
        .with_only_columns(Ticket.id)
        .order_by(*order)
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("page_size", type_=Integer))
    )
    return (
        select(Ticket)
        .options(joinedload(Ticket.analysis), defer(Ticket.description))  # not in a page
        .where(Ticket.id.in_(page_ids))
        .order_by(*order)
    )


def list_tickets(
    *,
    db: Session,
    page: int,
    page_size: int,
    sort: str,
    count_cap: int | None = None,
    **filters: Any,
) -> tuple[list[Ticket], int, bool]:
    """A page of tickets, the total and whether that total is exact: it is counted up to
    `count_cap` (default TOTAL_COUNT_CAP, TEXT_COUNT_CAP with a subject search) or to the
    end of the page asked for, whichever is further; when more match, the total is that
    bound and not exact ("more than"). A last page needs no count."""
    offset = (page - 1) * page_size
    shape, params = filter_values(**filters)
    params.update(offset=offset, page_size=page_size)
    rows = list(db.scalars(_page_statement(shape, sort), params).unique())
    if 0 < len(rows) < page_size or (page == 1 and not rows):
        return rows, offset + len(rows), True  # the last page: the total needs no count
    if count_cap is None:
        count_cap = TEXT_COUNT_CAP if filters.get("text") else TOTAL_COUNT_CAP
    bound = max(count_cap, page * page_size)
    total = count_tickets(db=db, limit=bound + 1, **filters)
    return rows, min(total, bound), total <= bound


def summary_stats(*, db: Session, user_id: int) -> dict[str, Any]:
    """Totals and label counts (labels with none left out) in one query: the label counts
    are filtered COUNTs of one scan rather than a GROUP BY query per field."""
    values = db.execute(_summary_statement(), {"user_id": user_id}).one()._mapping
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
