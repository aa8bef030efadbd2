"""Pydantic request and response models."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from app.enums import (
    AnalysisSource,
    Category,
    ItemStatus,
    JobOrigin,
    JobState,
    Sentiment,
    StepStatus,
    Urgency,
    UserRole,
    WriteBack,
)
from app.schemas import examples


def _reject_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _reject_numbers(value: object) -> object:
    """Pydantic reads a number as seconds since 1970 (`end=0.5` is 1970-01-01): refuse it,
    a date is written as a date."""
    if (isinstance(value, int | float) and not isinstance(value, bool)) or (
        isinstance(value, str) and _NUMBER.fullmatch(value)
    ):
        raise ValueError(
            "must be an ISO 8601 date or date-time such as 2025-03-01 or "
            "2025-03-01T08:00:00Z, not a number"
        )
    return value


# A date-time in a query parameter: ISO 8601 only (no Unix timestamps).
IsoDateTime = Annotated[datetime, BeforeValidator(_reject_numbers)]


# The largest ticket id the API accepts anywhere (paths, bodies, webhooks): 2**53, the top of
# the range a JSON number keeps exactly in JavaScript, far above any real Zendesk ticket id.
MAX_TICKET_ID = 2**53

# Length constraints go before the NUL check: after a validator they become generic
# "items" checks, with a confusing message and no maxLength in the OpenAPI schema.
NoNul = AfterValidator(_reject_nul)
Password = Annotated[
    str,
    StringConstraints(min_length=8, max_length=1024),
    NoNul,
    Field(examples=["s3cret-pass"]),
]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, object]] | dict[str, object] | None = None
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class UserCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.USER_CREATE]})

    email: EmailStr
    password: Password
    full_name: Annotated[str, StringConstraints(max_length=200), NoNul] | None = None


# A password being checked, not chosen: no minimum, so an old short one can still be given.
GivenPassword = Annotated[str, StringConstraints(min_length=1, max_length=1024), NoNul]


class PasswordChange(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PASSWORD_CHANGE]})

    current_password: GivenPassword
    new_password: Password


class AccountDeletion(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ACCOUNT_DELETION]})

    confirm: Annotated[str, StringConstraints(max_length=320), NoNul] = Field(
        description="Your email address, to confirm", examples=["you@example.com"]
    )
    password: GivenPassword


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str | None
    timezone: str
    created_at: datetime
    role: UserRole = Field(description="`admin` also manages every account (`/admin`)")


class Token(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TOKEN]})

    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Lifetime in seconds")


class HealthStatus(BaseModel):
    status: str


class ReadinessStatus(BaseModel):
    status: str
    checks: dict[str, str]


# --- tickets ---------------------------------------------------------------------------


class ProcessRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PROCESS_REQUEST]})

    ticket_id: int = Field(gt=0, le=MAX_TICKET_ID, strict=True, description="Zendesk ticket id")


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    zendesk_ticket_id: int
    subject: str
    status: str | None
    priority: str | None
    tags: list[str]
    zendesk_created_at: datetime | None
    zendesk_updated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AnalysisOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    category: Category
    urgency: Urgency
    sentiment: Sentiment
    confidence: float
    category_confidence: float | None
    urgency_confidence: float | None
    sentiment_confidence: float | None
    language: str | None
    summary: str
    reply_draft: str | None
    suggested_tags: list[str]
    source: AnalysisSource
    decision_reason: str | None
    model: str | None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    processing_time_ms: int
    pii_redactions: dict[str, int]
    tags_written: list[str]
    written_back_at: datetime | None
    feedback_category: Category | None
    feedback_urgency: Urgency | None
    feedback_sentiment: Sentiment | None
    created_at: datetime
    updated_at: datetime


class TicketListItem(TicketOut):
    analysis: AnalysisOut | None = None


class ProcessingLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: str
    status: StepStatus
    duration_ms: int
    cost_usd: Decimal
    message: str | None
    job_id: str | None
    created_at: datetime


class TicketDetail(BaseModel):
    ticket: TicketOut
    analysis: AnalysisOut | None
    logs: list[ProcessingLogOut]


class ProcessResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PROCESS_RESPONSE]})

    ticket: TicketOut
    analysis: AnalysisOut
    write_back_status: WriteBack = Field(
        description="written, unchanged, skipped (closed ticket), disabled or failed"
    )
    write_back_error: str | None = None


class TicketPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TICKET_PAGE]})

    items: list[TicketListItem]
    total: int = Field(
        description="tickets matching the filters; when total_is_exact is false, more than"
        " this many (counting stops past 10,000, or 1,000 with q, or past the end of the page"
        " asked for)"
    )
    page: int
    page_size: int
    total_is_exact: bool = Field(
        default=True, description="false when more tickets match than `total`"
    )


class TicketSummary(BaseModel):
    total_tickets: int
    analysed_tickets: int
    total_cost_usd: Decimal
    average_processing_time_ms: float | None
    by_category: dict[str, int]
    by_urgency: dict[str, int]
    by_sentiment: dict[str, int]
    by_source: dict[str, int]


# --- batch jobs -------------------------------------------------------------------------


class BatchRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.BATCH_REQUEST]})

    ticket_ids: list[Annotated[int, Field(gt=0, le=MAX_TICKET_ID, strict=True)]] = Field(
        min_length=1, max_length=100, description="1 to 100 unique Zendesk ticket ids"
    )

    @field_validator("ticket_ids")
    @classmethod
    def _unique(cls, value: list[int]) -> list[int]:
        duplicates = sorted({ticket_id for ticket_id in value if value.count(ticket_id) > 1})
        if duplicates:
            raise ValueError(f"duplicate ticket ids: {duplicates}")
        return value


class JobProgress(BaseModel):
    done: int
    failed: int
    total: int


class JobItemResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    category: Category
    urgency: Urgency
    sentiment: Sentiment
    source: AnalysisSource
    summary: str


class JobItemOut(BaseModel):
    ticket_id: int
    status: ItemStatus = Field(description="pending → analyzed → writing → done, or failed")
    result: JobItemResult | None = Field(
        description="the ticket's analysis, once this job has analysed it"
    )
    write_back: WriteBack | None = Field(
        description="written; unchanged (Zendesk had the tags and note); skipped (closed "
        "ticket); disabled (write-back is off in the settings); null until done"
    )
    error: str | None
    finished_at: datetime | None


class JobOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.JOB]})

    id: str
    state: JobState = Field(description="queued → running → one of the final states")
    origin: JobOrigin = Field(description="what queued the job")
    progress: JobProgress
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    items: list[JobItemOut] | None = None


class JobList(BaseModel):
    items: list[JobOut]
    next_before: str | None = Field(
        default=None,
        description="Pass as `before` for the next (older) page; null on the last page",
    )
