"""SQLAlchemy 2.0 typed models. Timestamps are timezone-aware UTC; money is Numeric."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Computed,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.core.column_types import UTCDateTime, label_enum, utcnow
from app.enums import (
    AnalysisRoute,
    AnalysisSource,
    Category,
    DeliveryStatus,
    ItemStatus,
    JobOrigin,
    JobState,
    LLMBatchState,
    LLMRequestState,
    Sentiment,
    StepStatus,
    TrainingOrigin,
    Urgency,
    UserRole,
    WriteBack,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


MONEY = Numeric(14, 6)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def new_token_key() -> str:
    return secrets.token_hex(16)


class User(TimestampMixin, Base):
    __tablename__ = "users"
    # SQLite: a deleted user's id is never handed to a new account.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    hashed_password: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # False: disabled by an admin; its tokens and logins are refused (`/admin/users`).
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[UserRole] = mapped_column(
        label_enum(UserRole, "role"), default=UserRole.user, server_default=UserRole.user.value
    )
    # Every access token carries it; a new one (password change) revokes older tokens.
    token_key: Mapped[str] = mapped_column(String(32), default=new_token_key)

    integration: Mapped[IntegrationSettings | None] = relationship(
        back_populates="user", lazy="raise", cascade="all, delete-orphan", uselist=False
    )


def _new_public_id() -> str:
    return uuid.uuid4().hex


class IntegrationSettings(TimestampMixin, Base):
    """Per-user integration settings. Columns ending in `_encrypted` hold Fernet tokens."""

    __tablename__ = "integration_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=_new_public_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    zendesk_url: Mapped[str | None] = mapped_column(String(255))
    zendesk_email: Mapped[str | None] = mapped_column(String(320))
    zendesk_api_token_encrypted: Mapped[str | None] = mapped_column(Text)
    zendesk_webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    openai_api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    openai_model: Mapped[str] = mapped_column(String(100), default="gpt-4o-mini")
    openai_base_url: Mapped[str | None] = mapped_column(String(255))
    analysis_mode: Mapped[str] = mapped_column(String(16), default="auto")
    write_tags: Mapped[bool] = mapped_column(Boolean, default=True)
    write_note: Mapped[bool] = mapped_column(Boolean, default=True)
    reply_draft: Mapped[bool] = mapped_column(Boolean, default=True)
    redact_pii: Mapped[bool] = mapped_column(Boolean, default=True)
    tag_prefix: Mapped[str] = mapped_column(String(32), default="ai")
    polling_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    polling_interval_s: Mapped[int] = mapped_column(Integer, default=300)
    polling_cursor: Mapped[str | None] = mapped_column(Text)
    polling_last_run_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(back_populates="integration", lazy="raise")


class Ticket(TimestampMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("user_id", "zendesk_ticket_id"),
        Index("ix_tickets_user_id_updated_at", "user_id", "updated_at"),
        # The ticket list: its status filter and each sort (migration 0035).
        Index("ix_tickets_user_id_status_updated_at", "user_id", "status", "updated_at"),
        Index("ix_tickets_user_id_zendesk_created_at", "user_id", "zendesk_created_at"),
        Index("ix_tickets_user_id_subject", "user_id", "subject"),
        # `q=` (subject_lower LIKE '%...%'): trigrams on PostgreSQL, a plain index on SQLite.
        Index(
            "ix_tickets_subject_lower_trgm",
            "subject_lower",
            postgresql_using="gin",
            postgresql_ops={"subject_lower": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    zendesk_ticket_id: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(String(500), default="")
    # The search's copy: LIKE on it spares ILIKE's lower() of every candidate row (0050).
    subject_lower: Mapped[str] = mapped_column(
        String(500), Computed("lower(subject)", persisted=True), deferred=True
    )
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str | None] = mapped_column(String(16), index=True)
    priority: Mapped[str | None] = mapped_column(String(16))
    ticket_type: Mapped[str | None] = mapped_column(String(16))
    requester_id: Mapped[int | None] = mapped_column(BigInteger)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    zendesk_created_at: Mapped[datetime | None] = mapped_column()
    zendesk_updated_at: Mapped[datetime | None] = mapped_column()

    analysis: Mapped[TicketAnalysis | None] = relationship(
        back_populates="ticket", lazy="raise", uselist=False
    )


class TicketAnalysis(TimestampMixin, Base):
    """The current analysis of a ticket: reprocessing updates it in place."""

    __tablename__ = "ticket_analyses"
    __table_args__ = (
        # Covering: analytics aggregate a period's rows from the index alone.
        Index(
            "ix_ticket_analyses_user_id_created_at",
            "user_id",
            "created_at",
            postgresql_include=[
                "category",
                "urgency",
                "sentiment",
                "source",
                "processing_time_ms",
                "cost_usd",
            ],
        ),
        # Rated analyses only (a few percent): accuracy without scanning the period.
        Index(
            "ix_ticket_analyses_rated",
            "user_id",
            "created_at",
            postgresql_include=[
                "category",
                "urgency",
                "sentiment",
                "feedback_category",
                "feedback_urgency",
                "feedback_sentiment",
            ],
            postgresql_where=text("feedback_at IS NOT NULL"),
            sqlite_where=text("feedback_at IS NOT NULL"),
        ),
        Index("ix_ticket_analyses_user_id_category", "user_id", "category"),
        Index("ix_ticket_analyses_user_id_route", "user_id", "route"),
        Index("ix_ticket_analyses_user_id_urgency", "user_id", "urgency"),
        Index("ix_ticket_analyses_user_id_sentiment", "user_id", "sentiment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    category: Mapped[Category] = mapped_column(label_enum(Category, "category"))
    urgency: Mapped[Urgency] = mapped_column(label_enum(Urgency, "urgency"))
    sentiment: Mapped[Sentiment] = mapped_column(label_enum(Sentiment, "sentiment"))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    category_confidence: Mapped[float | None] = mapped_column(Float)
    urgency_confidence: Mapped[float | None] = mapped_column(Float)
    sentiment_confidence: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(8))
    summary: Mapped[str] = mapped_column(String(300), default="")
    reply_draft: Mapped[str | None] = mapped_column(String(600))
    suggested_tags: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[AnalysisSource] = mapped_column(label_enum(AnalysisSource, "source"))
    decision_reason: Mapped[str | None] = mapped_column(String(200))  # for people only
    route: Mapped[AnalysisRoute | None] = mapped_column(label_enum(AnalysisRoute, "route"))
    model: Mapped[str | None] = mapped_column(String(100))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    processing_time_ms: Mapped[int] = mapped_column(Integer, default=0)
    pii_redactions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags_written: Mapped[list[Any]] = mapped_column(default=list)
    note_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # When the pending note was claimed: a claim younger than writeback.NOTE_CLAIM_S is a
    # request still posting it, an older one an attempt that died (look before posting).
    note_claimed_at: Mapped[datetime | None] = mapped_column()
    written_back_at: Mapped[datetime | None] = mapped_column()
    feedback_category: Mapped[Category | None] = mapped_column(
        label_enum(Category, "feedback_category")
    )
    feedback_urgency: Mapped[Urgency | None] = mapped_column(
        label_enum(Urgency, "feedback_urgency")
    )
    feedback_sentiment: Mapped[Sentiment | None] = mapped_column(
        label_enum(Sentiment, "feedback_sentiment")
    )
    feedback_at: Mapped[datetime | None] = mapped_column()

    ticket: Mapped[Ticket] = relationship(back_populates="analysis", lazy="raise")


class ProcessingLog(Base):
    """One row per processing step, with its duration, status and cost."""

    __tablename__ = "processing_logs"
    __table_args__ = (Index("ix_processing_logs_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    zendesk_ticket_id: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    step: Mapped[str] = mapped_column(String(32))
    status: Mapped[StepStatus] = mapped_column(label_enum(StepStatus, "status"))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SystemMetrics(Base):
    """Daily per-user rollup of processed analyses (the user's local day)."""

    __tablename__ = "system_metrics"
    __table_args__ = (UniqueConstraint("user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    tickets_processed: Mapped[int] = mapped_column(Integer, default=0)
    total_processing_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    total_cost_usd: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    category_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    urgency_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sentiment_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BatchJob(TimestampMixin, Base):
    """A batch of up to 100 tickets processed by a worker; survives broker restarts."""

    __tablename__ = "batch_jobs"
    __table_args__ = (
        Index("ix_batch_jobs_user_id_created_at", "user_id", "created_at"),
        Index("ix_batch_jobs_state_dispatched_at", "state", "dispatched_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[JobState] = mapped_column(
        label_enum(JobState, "state", length=20), default=JobState.queued
    )
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    origin: Mapped[JobOrigin] = mapped_column(
        label_enum(JobOrigin, "origin"), default=JobOrigin.api
    )
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    # A bulk update sent to Zendesk and not yet seen through: a resumed job waits for it
    # before writing again (it may still be applying tags and notes).
    writeback_job_id: Mapped[str | None] = mapped_column(String(64))
    # Last handed to the queue: a job whose task was lost is handed again (resume_stalled).
    dispatched_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("backfills.id"), index=True)


class BatchJobItem(Base):
    """One ticket of a batch; unique per (job, ticket) so redelivery never duplicates work."""

    __tablename__ = "batch_job_items"
    __table_args__ = (
        UniqueConstraint("job_id", "zendesk_ticket_id"),
        Index("ix_batch_job_items_ticket_id_status", "ticket_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("batch_jobs.id", ondelete="CASCADE"))
    zendesk_ticket_id: Mapped[int] = mapped_column(BigInteger)
    position: Mapped[int] = mapped_column(Integer)
    # pending → analyzed → writing → done, or failed; resumable at every state
    status: Mapped[ItemStatus] = mapped_column(
        label_enum(ItemStatus, "status"), default=ItemStatus.pending
    )
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    note_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # written, unchanged (Zendesk had it all), skipped (closed ticket) or disabled (settings)
    write_back: Mapped[WriteBack | None] = mapped_column(label_enum(WriteBack, "write_back"))
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column()


class WebhookDelivery(Base):
    """One signed Zendesk webhook delivery. Unique per signed content (timestamp + body: a
    replay under a new, unsigned invocation id), per invocation (Zendesk's retries) and per
    ticket event (the same change sent twice), so a repeated delivery is never queued twice."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("integration_id", "signed_digest"),
        UniqueConstraint("integration_id", "invocation_id"),
        UniqueConstraint("user_id", "zendesk_ticket_id", "event_key"),
        Index("ix_webhook_deliveries_user_id_received_at", "user_id", "received_at"),
        Index("ix_webhook_deliveries_received_at", "received_at"),  # pruning
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integration_settings.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    webhook_id: Mapped[str | None] = mapped_column(String(64))
    invocation_id: Mapped[str | None] = mapped_column(String(64))
    # sha256 of what the signature covers (timestamp + raw body)
    signed_digest: Mapped[str | None] = mapped_column(String(64))
    zendesk_ticket_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str | None] = mapped_column(String(80))
    # "event:<Zendesk event id>" or "updated:<ticket updated_at>"; null when the body has neither
    event_key: Mapped[str | None] = mapped_column(String(128))
    ticket_updated_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[DeliveryStatus] = mapped_column(label_enum(DeliveryStatus, "status"))
    reason: Mapped[str | None] = mapped_column(String(200))
    job_id: Mapped[str | None] = mapped_column(
        ForeignKey("batch_jobs.id", ondelete="SET NULL"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- cascade and learning ------------------------------------------------------------------


class CascadeSettings(Base):
    """Per-user cascade options; a user without a row gets the defaults."""

    __tablename__ = "cascade_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    # The offline model answers alone when each field reaches this precision.
    target_precision: Mapped[float] = mapped_column(Float, default=0.95)
    # Confident LLM answers (confidence >= 0.9) also become training rows.
    learn_from_llm: Mapped[bool] = mapped_column(Boolean, default=False)
    # Non-urgent tickets the LLM should answer go through the Batch API (50% price, <= 24 h).
    use_llm_batch_api: Mapped[bool] = mapped_column(Boolean, default=False)
    # Training rows feedback wrote or changed since the last retrain was queued.
    labels_since_retrain: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TrainingExample(TimestampMixin, Base):
    """A labelled ticket of one user (agent feedback, or a confident LLM answer); a label
    left empty is not trained on for that field."""

    __tablename__ = "training_examples"
    __table_args__ = (UniqueConstraint("user_id", "ticket_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[Category | None] = mapped_column(label_enum(Category, "category"))
    urgency: Mapped[Urgency | None] = mapped_column(label_enum(Urgency, "urgency"))
    sentiment: Mapped[Sentiment | None] = mapped_column(label_enum(Sentiment, "sentiment"))
    origin: Mapped[TrainingOrigin] = mapped_column(label_enum(TrainingOrigin, "origin"))


class UserModel(Base):
    """A version of one user's offline model: the .npz artifact, its metrics, whether active."""

    __tablename__ = "user_models"
    __table_args__ = (UniqueConstraint("user_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(100))  # the artifact's digest version
    artifact: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column()


class LLMBatch(TimestampMixin, Base):
    """One OpenAI Batch API batch; `state` is ours: submitted → applied, or failed."""

    __tablename__ = "llm_batches"
    __table_args__ = (Index("ix_llm_batches_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    openai_batch_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    input_file_id: Mapped[str | None] = mapped_column(String(100))
    output_file_id: Mapped[str | None] = mapped_column(String(100))
    error_file_id: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="validating")  # OpenAI's status
    state: Mapped[LLMBatchState] = mapped_column(
        label_enum(LLMBatchState, "state"), default=LLMBatchState.submitted
    )
    request_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column()
    applied_at: Mapped[datetime | None] = mapped_column()


class LLMBatchRequest(Base):
    """One ticket in a batch; `state` submitted → applied, failed or superseded, once."""

    __tablename__ = "llm_batch_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("llm_batches.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    custom_id: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[LLMRequestState] = mapped_column(
        label_enum(LLMRequestState, "state"), default=LLMRequestState.submitted
    )
    error: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column()


import app.batch.tables  # noqa: E402, F401  (the backfills table, in Base.metadata)
