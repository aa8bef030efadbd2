"""The query parameters of `GET /tickets/`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.enums import AnalysisSource, Category, Sentiment, Urgency
from app.schemas import IsoDateTime

ZendeskStatus = Literal["new", "open", "pending", "hold", "solved", "closed"]
SortKey = Literal[
    "updated_at",
    "-updated_at",
    "created_at",
    "-created_at",
    "zendesk_ticket_id",
    "-zendesk_ticket_id",
    "subject",
    "-subject",
]


class TicketListQuery(BaseModel):
    """The ticket list's query parameters, validated as one model (one validation instead
    of one per parameter: a good share of the request's CPU)."""

    category: Category | None = None
    urgency: Urgency | None = None
    sentiment: Sentiment | None = None
    source: AnalysisSource | None = None
    status: ZendeskStatus | None = None
    start: IsoDateTime | None = Field(
        None, description="updated at or after; without an offset: local time"
    )
    end: IsoDateTime | None = Field(
        None, description="updated before; without an offset: local time"
    )
    q: str | None = Field(None, max_length=200, description="text in the subject")
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(25, ge=1, le=100)
    sort: SortKey = "-updated_at"
