"""The CSV export of a period's analyses, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analytics.reports import Window
from app.analytics.rollups import MONEY_QUANTUM
from app.models import Ticket, TicketAnalysis

EXPORT_HEADER = (
    "zendesk_ticket_id",
    "subject",
    "category",
    "urgency",
    "sentiment",
    "confidence",
    "source",
    "cost_usd",
    "processing_time_ms",
    "analysed_at",
    "feedback_category",
    "feedback_urgency",
    "feedback_sentiment",
    "feedback_at",
)
EXPORT_BATCH_ROWS = 2000
# What a spreadsheet may read as the start of a formula: the ASCII signs, their full-width
# and small forms, the minus sign, and tab, CR or LF first (OWASP's CSV injection list).
_FORMULA_SIGNS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\u2212")
_FORMULA_STARTS = frozenset("\t\r\n")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return format(value.quantize(MONEY_QUANTUM), "f")
    return getattr(value, "value", value)


def _safe_text(value: str) -> str:
    """Text from outside must not run as a spreadsheet formula when the file is opened:
    a leading quote when it starts with a formula sign, also after leading whitespace."""
    if value[:1] in _FORMULA_STARTS or value.lstrip()[:1] in _FORMULA_SIGNS:
        return "'" + value
    return value


def export_csv(db: Session, window: Window) -> Iterator[str]:
    """The period's analyses as CSV chunks, read in batches from a server-side cursor."""
    query = (
        select(
            Ticket.zendesk_ticket_id,
            Ticket.subject,
            TicketAnalysis.category,
            TicketAnalysis.urgency,
            TicketAnalysis.sentiment,
            TicketAnalysis.confidence,
            TicketAnalysis.source,
            TicketAnalysis.cost_usd,
            TicketAnalysis.processing_time_ms,
            TicketAnalysis.created_at,
            TicketAnalysis.feedback_category,
            TicketAnalysis.feedback_urgency,
            TicketAnalysis.feedback_sentiment,
            TicketAnalysis.feedback_at,
        )
        .join(Ticket, Ticket.id == TicketAnalysis.ticket_id)
        .where(
            TicketAnalysis.user_id == window.user_id,
            TicketAnalysis.created_at >= window.start,
            TicketAnalysis.created_at < window.end,
        )
        .order_by(TicketAnalysis.created_at, TicketAnalysis.id)
        .execution_options(yield_per=EXPORT_BATCH_ROWS)
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    yield buffer.getvalue()
    result = db.execute(query)
    try:
        for batch in result.partitions():
            buffer.seek(0)
            buffer.truncate()
            for row in batch:
                cells = [_cell(value) for value in row]
                cells[1] = _safe_text(cells[1])
                writer.writerow(cells)
            yield buffer.getvalue()
    finally:
        result.close()
