"""Request and response models of `POST /tickets/backfill` and `GET /tickets/backfills/{id}`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.enums import BackfillState
from app.schemas import JobProgress


class BackfillRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"query": "status<solved tags:vip", "max_tickets": 500},
                {"start": "2026-10-01", "end": "2026-11-01"},
            ]
        },
    )

    query: str | None = Field(
        default=None,
        max_length=500,
        description='a Zendesk search query, e.g. "status<solved tags:vip"',
    )
    start: date | None = Field(default=None, description="tickets created on or after this day")
    end: date | None = Field(default=None, description="tickets created before this day")
    max_tickets: int = Field(
        default=10_000, ge=1, le=10_000, description="stop after this many tickets (at most 10,000)"
    )

    @model_validator(mode="after")
    def _query_or_dates(self) -> Self:
        if self.query is not None and not self.query.strip():
            raise ValueError("query must not be blank")
        dated = self.start is not None or self.end is not None
        if self.query is None and not dated:
            raise ValueError("give either query or a date range (start and/or end)")
        if self.query is not None and dated:
            raise ValueError("give either query or a date range, not both")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start (end is exclusive)")
        if "\x00" in (self.query or ""):
            raise ValueError("query must not contain NUL characters")
        return self


class BackfillOut(BaseModel):
    id: str
    state: BackfillState = Field(
        description="queued, searching, running, succeeded, partially_failed or failed"
    )
    query: str = Field(description="the Zendesk search that was (or will be) run")
    max_tickets: int
    found: int | None = Field(description="tickets the search found; null until it has run")
    job_ids: list[str] = Field(description="the batch jobs of up to 100 tickets, in order")
    progress: JobProgress = Field(description="summed over the batch jobs")
    error: str | None
    created_at: datetime
    updated_at: datetime
