"""batch jobs: when the job was last handed to the queue (stalled jobs are handed again);
items by ticket and status (notes other jobs are posting)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batch_jobs") as batch:
        batch.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE batch_jobs SET dispatched_at = created_at")
    op.create_index(
        "ix_batch_jobs_state_dispatched_at", "batch_jobs", ["state", "dispatched_at"], unique=False
    )
    op.create_index(
        "ix_batch_job_items_ticket_id_status",
        "batch_job_items",
        ["ticket_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_batch_job_items_ticket_id_status", table_name="batch_job_items")
    op.drop_index("ix_batch_jobs_state_dispatched_at", table_name="batch_jobs")
    with op.batch_alter_table("batch_jobs") as batch:
        batch.drop_column("dispatched_at")
