"""batch jobs: the Zendesk job of a write-back in flight; what each item's write-back did

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 19:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batch_jobs") as batch:
        batch.add_column(sa.Column("writeback_job_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("batch_job_items") as batch:
        batch.add_column(sa.Column("write_back", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch_job_items") as batch:
        batch.drop_column("write_back")
    with op.batch_alter_table("batch_jobs") as batch:
        batch.drop_column("writeback_job_id")
