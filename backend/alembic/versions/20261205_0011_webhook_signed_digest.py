"""webhook deliveries: unique per signed content (timestamp + body), not only per the
unsigned invocation id, so a captured delivery replayed under a new id is recognised

Revision ID: 0011
Revises: 0025
Create Date: 2026-12-05 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("signed_digest", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_webhook_deliveries_integration_id_signed_digest"),
            ["integration_id", "signed_digest"],
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_constraint(
            op.f("uq_webhook_deliveries_integration_id_signed_digest"), type_="unique"
        )
        batch.drop_column("signed_digest")
