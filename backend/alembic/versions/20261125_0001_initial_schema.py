"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:39:47.969197
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("hashed_password", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "batch_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_batch_jobs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_jobs")),
    )
    with op.batch_alter_table("batch_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_batch_jobs_user_id_created_at", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "integration_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("zendesk_url", sa.String(length=255), nullable=True),
        sa.Column("zendesk_email", sa.String(length=320), nullable=True),
        sa.Column("zendesk_api_token_encrypted", sa.Text(), nullable=True),
        sa.Column("zendesk_webhook_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("openai_api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("openai_model", sa.String(length=100), nullable=False),
        sa.Column("openai_base_url", sa.String(length=255), nullable=True),
        sa.Column("analysis_mode", sa.String(length=16), nullable=False),
        sa.Column("write_tags", sa.Boolean(), nullable=False),
        sa.Column("write_note", sa.Boolean(), nullable=False),
        sa.Column("reply_draft", sa.Boolean(), nullable=False),
        sa.Column("redact_pii", sa.Boolean(), nullable=False),
        sa.Column("tag_prefix", sa.String(length=32), nullable=False),
        sa.Column("polling_enabled", sa.Boolean(), nullable=False),
        sa.Column("polling_interval_s", sa.Integer(), nullable=False),
        sa.Column("polling_cursor", sa.Text(), nullable=True),
        sa.Column("polling_last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_integration_settings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_settings")),
        sa.UniqueConstraint("public_id", name=op.f("uq_integration_settings_public_id")),
        sa.UniqueConstraint("user_id", name=op.f("uq_integration_settings_user_id")),
    )
    op.create_table(
        "system_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tickets_processed", sa.Integer(), nullable=False),
        sa.Column("total_processing_ms", sa.BigInteger(), nullable=False),
        sa.Column("total_cost_usd", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("category_counts", sa.JSON(), nullable=False),
        sa.Column("urgency_counts", sa.JSON(), nullable=False),
        sa.Column("sentiment_counts", sa.JSON(), nullable=False),
        sa.Column("source_counts", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_system_metrics_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_metrics")),
        sa.UniqueConstraint("user_id", "day", name=op.f("uq_system_metrics_user_id_day")),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("zendesk_ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("ticket_type", sa.String(length=16), nullable=True),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("zendesk_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("zendesk_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tickets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint(
            "user_id", "zendesk_ticket_id", name=op.f("uq_tickets_user_id_zendesk_ticket_id")
        ),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tickets_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_tickets_user_id_updated_at", ["user_id", "updated_at"], unique=False
        )

    op.create_table(
        "batch_job_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("zendesk_ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["batch_jobs.id"],
            name=op.f("fk_batch_job_items_job_id_batch_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_batch_job_items_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_job_items")),
        sa.UniqueConstraint(
            "job_id", "zendesk_ticket_id", name=op.f("uq_batch_job_items_job_id_zendesk_ticket_id")
        ),
    )
    op.create_table(
        "processing_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("zendesk_ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_processing_logs_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_processing_logs_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_logs")),
    )
    with op.batch_alter_table("processing_logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_processing_logs_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_processing_logs_ticket_id"), ["ticket_id"], unique=False
        )
        batch_op.create_index(
            "ix_processing_logs_user_id_created_at", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "ticket_analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "bug",
                "feature",
                "billing",
                "support",
                "other",
                name="category",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "urgency",
            sa.Enum(
                "low",
                "medium",
                "high",
                name="urgency",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "sentiment",
            sa.Enum(
                "positive",
                "neutral",
                "negative",
                name="sentiment",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("category_confidence", sa.Float(), nullable=True),
        sa.Column("urgency_confidence", sa.Float(), nullable=True),
        sa.Column("sentiment_confidence", sa.Float(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("reply_draft", sa.String(length=600), nullable=True),
        sa.Column("suggested_tags", sa.JSON(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "llm",
                "local",
                "fallback",
                "batch",
                name="source",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("decision_reason", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("processing_time_ms", sa.Integer(), nullable=False),
        sa.Column("pii_redactions", sa.JSON(), nullable=False),
        sa.Column("tags_written", sa.JSON(), nullable=False),
        sa.Column("note_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("written_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "feedback_category",
            sa.Enum(
                "bug",
                "feature",
                "billing",
                "support",
                "other",
                name="feedback_category",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column(
            "feedback_urgency",
            sa.Enum(
                "low",
                "medium",
                "high",
                name="feedback_urgency",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column(
            "feedback_sentiment",
            sa.Enum(
                "positive",
                "neutral",
                "negative",
                name="feedback_sentiment",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_analyses_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ticket_analyses_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_analyses")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_ticket_analyses_ticket_id")),
    )
    with op.batch_alter_table("ticket_analyses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticket_analyses_user_id_category", ["user_id", "category"], unique=False
        )
        batch_op.create_index(
            "ix_ticket_analyses_user_id_created_at", ["user_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_ticket_analyses_user_id_sentiment", ["user_id", "sentiment"], unique=False
        )
        batch_op.create_index(
            "ix_ticket_analyses_user_id_urgency", ["user_id", "urgency"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket_analyses", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_analyses_user_id_urgency")
        batch_op.drop_index("ix_ticket_analyses_user_id_sentiment")
        batch_op.drop_index("ix_ticket_analyses_user_id_created_at")
        batch_op.drop_index("ix_ticket_analyses_user_id_category")

    op.drop_table("ticket_analyses")
    with op.batch_alter_table("processing_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_processing_logs_user_id_created_at")
        batch_op.drop_index(batch_op.f("ix_processing_logs_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_processing_logs_job_id"))

    op.drop_table("processing_logs")
    op.drop_table("batch_job_items")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_user_id_updated_at")
        batch_op.drop_index(batch_op.f("ix_tickets_status"))

    op.drop_table("tickets")
    op.drop_table("system_metrics")
    op.drop_table("integration_settings")
    with op.batch_alter_table("batch_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_batch_jobs_user_id_created_at")

    op.drop_table("batch_jobs")
    op.drop_table("users")
