"""backfills: a Zendesk search turned into batch jobs (`POST /tickets/backfill`); batch
jobs get the nullable id of the backfill they belong to

Revision ID: 0047
Revises: 0040
Create Date: 2026-12-05 17:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0047"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("queued", "searching", "running", "succeeded", "partially_failed", "failed")


def upgrade() -> None:
    op.create_table(
        "backfills",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="state", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("max_tickets", sa.Integer(), nullable=False),
        sa.Column("found", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("max_tickets BETWEEN 1 AND 10000", name="max_tickets"),
        sa.CheckConstraint("found IS NULL OR found >= 0", name="found"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_backfills_user_id", "backfills", ["user_id"], unique=False)
    with op.batch_alter_table("batch_jobs") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(36), nullable=True))
        batch.create_foreign_key(
            "fk_batch_jobs_parent_id_backfills", "backfills", ["parent_id"], ["id"]
        )
        batch.create_index("ix_batch_jobs_parent_id", ["parent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("batch_jobs") as batch:
        batch.drop_index("ix_batch_jobs_parent_id")
        batch.drop_constraint("fk_batch_jobs_parent_id_backfills", type_="foreignkey")
        batch.drop_column("parent_id")
    op.drop_index("ix_backfills_user_id", table_name="backfills")
    op.drop_table("backfills")
