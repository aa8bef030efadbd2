"""ticket_analyses.note_claimed_at: when a request claimed the posting of the note whose
fingerprint is pending, so a second request for the same ticket leaves a note still being
posted to the first instead of posting it again

Revision ID: 0050
Revises: 0049
Create Date: 2026-12-06 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0050"
down_revision: str | None = "0049"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_analyses") as batch:
        batch.add_column(sa.Column("note_claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_analyses") as batch:
        batch.drop_column("note_claimed_at")
