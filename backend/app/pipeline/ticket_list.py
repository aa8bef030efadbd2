"""The ticket list's queries: filters, the subject search, its pages and their totals."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, null, select
from sqlalchemy.orm import Session

from app.database import execute_core
from app.models import Ticket, TicketAnalysis
from app.pipeline import ticket_rows

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

    Compared with LIKE on `subject_lower` (the subject in lower case, stored): ILIKE would
    lower-case each candidate row's subject, and the pattern, on every comparison: over
    a third of the database's CPU for "order 77" on a million tickets (29 -> 18 ms).

    A trigram index reads the list of rows of every trigram of the pattern, and a common
    word's trigrams list most rows: "order 4242" spent 50 ms on those of "order" where
    "4242" alone takes a millisecond. So in a text of several words with a number (an
    order or ticket number), the index looks up only the number (`probe`, with the
    character before it, which marks where it starts), and the whole text is checked on
    the rows found, written so that the index cannot take it (`subject_lower || ''`).
    Same matches; only the plan differs.
    """
    pattern = func.lower(bindparam("pattern"))
    if not probe:
        return [Ticket.subject_lower.like(pattern, escape="\\")]
    whole = (Ticket.subject_lower + "").like(pattern, escape="\\")
    probe_pattern = func.lower(bindparam("probe"))
    return [Ticket.subject_lower.like(probe_pattern, escape="\\"), whole]


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
    return int(execute_core(db, _count_statement(shape, limit is not None), params).scalar() or 0)


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
def _page_statement(shape: tuple[str, ...], sort: str) -> Select[Any]:
    """The page's tickets with their analyses (laid out as `ticket_rows` reads them), each
    row ending with the number of matches when the page counted them (None otherwise)."""
    descending = sort.startswith("-")
    column = SORTS[sort.lstrip("-")]
    order = (column.desc(), Ticket.id.desc()) if descending else (column.asc(), Ticket.id.asc())
    # The page's ids first, its analyses joined after: joined before the LIMIT, every match
    # would be joined (11,000 index lookups for a search matching 1 % of a million tickets).
    counted = "probe" in shape
    page_ids = ticket_query(shape).with_only_columns(Ticket.id)
    if counted:
        # A number search reads every match to sort them (the index hands them over in no
        # useful order); counting them on the way spares a count query reading them again.
        page_ids = page_ids.add_columns(func.count().over().label("matches"))
    page_ids = (
        page_ids.order_by(*order)
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("page_size", type_=Integer))
    )
    columns = ticket_rows.ticket_and_analysis_columns()
    if counted:
        page = page_ids.subquery("page")
        statement = select(*columns, page.c.matches).join(page, page.c.id == Ticket.id)
    else:
        statement = select(*columns, null().label("matches")).where(Ticket.id.in_(page_ids))
    statement = statement.outerjoin(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
    return statement.order_by(*order)


def list_tickets(
    *,
    db: Session,
    page: int,
    page_size: int,
    sort: str,
    count_cap: int | None = None,
    **filters: Any,
) -> tuple[list[dict[str, Any]], int, bool]:
    """A page of tickets (as `ticket_rows.ticket_item` gives them), the total and whether
    that total is exact: it is counted up to `count_cap` (default TOTAL_COUNT_CAP,
    TEXT_COUNT_CAP with a subject search) or to the end of the page asked for, whichever is
    further; when more match, the total is that bound and not exact ("more than"). A last
    page needs no count."""
    offset = (page - 1) * page_size
    shape, params = filter_values(**filters)
    params.update(offset=offset, page_size=page_size)
    found = execute_core(db, _page_statement(shape, sort), params).all()
    rows = [ticket_rows.ticket_item(row) for row in found]
    if 0 < len(rows) < page_size or (page == 1 and not rows):
        return rows, offset + len(rows), True  # the last page: the total needs no count
    if count_cap is None:
        count_cap = TEXT_COUNT_CAP if filters.get("text") else TOTAL_COUNT_CAP
    bound = max(count_cap, page * page_size)
    counted = found[0].matches if found else None
    total = counted if counted is not None else count_tickets(db=db, limit=bound + 1, **filters)
    return rows, min(total, bound), total <= bound
