"""cascade and learning: cascade settings, training examples, user models, LLM batches

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "cascade_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("target_precision", sa.Float(), nullable=False),
        sa.Column("learn_from_llm", sa.Boolean(), nullable=False),
        sa.Column("use_llm_batch_api", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk("cascade_settings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cascade_settings")),
        sa.UniqueConstraint("user_id", name=op.f("uq_cascade_settings_user_id")),
    )
    op.create_table(
        "training_examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
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
            nullable=True,
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
            nullable=True,
        ),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_training_examples_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        _user_fk("training_examples"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_examples")),
        sa.UniqueConstraint(
            "user_id", "ticket_id", name=op.f("uq_training_examples_user_id_ticket_id")
        ),
    )
    op.create_table(
        "user_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        _user_fk("user_models"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_models")),
        sa.UniqueConstraint("user_id", "version", name=op.f("uq_user_models_user_id_version")),
    )
    op.create_table(
        "llm_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("openai_batch_id", sa.String(length=100), nullable=True),
        sa.Column("input_file_id", sa.String(length=100), nullable=True),
        sa.Column("output_file_id", sa.String(length=100), nullable=True),
        sa.Column("error_file_id", sa.String(length=100), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("request_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk("llm_batches"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_batches")),
        sa.UniqueConstraint("openai_batch_id", name=op.f("uq_llm_batches_openai_batch_id")),
    )
    with op.batch_alter_table("llm_batches", schema=None) as batch_op:
        batch_op.create_index("ix_llm_batches_state", ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_llm_batches_user_id"), ["user_id"], unique=False)

    op.create_table(
        "llm_batch_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("custom_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["llm_batches.id"],
            name=op.f("fk_llm_batch_requests_batch_id_llm_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_llm_batch_requests_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        _user_fk("llm_batch_requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_batch_requests")),
        sa.UniqueConstraint("custom_id", name=op.f("uq_llm_batch_requests_custom_id")),
    )
    with op.batch_alter_table("llm_batch_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_llm_batch_requests_batch_id"), ["batch_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_llm_batch_requests_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("llm_batch_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_llm_batch_requests_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_llm_batch_requests_batch_id"))

    op.drop_table("llm_batch_requests")
    with op.batch_alter_table("llm_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_llm_batches_user_id"))
        batch_op.drop_index("ix_llm_batches_state")

    op.drop_table("llm_batches")
    op.drop_table("user_models")
    op.drop_table("training_examples")
    op.drop_table("cascade_settings")
