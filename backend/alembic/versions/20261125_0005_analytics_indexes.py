"""analytics indexes: covering (user_id, created_at), rated analyses

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 14:20:29.960754
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANALYTICS_COLUMNS = ["category", "urgency", "sentiment", "source", "processing_time_ms", "cost_usd"]
RATED_COLUMNS = [
    "category",
    "urgency",
    "sentiment",
    "feedback_category",
    "feedback_urgency",
    "feedback_sentiment",
]


def upgrade() -> None:
    # INCLUDE columns (PostgreSQL only) let a period be aggregated from the index alone;
    # autogenerate does not compare them, so the index is recreated by hand.
    with op.batch_alter_table("ticket_analyses", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_analyses_user_id_created_at")
        batch_op.create_index(
            "ix_ticket_analyses_user_id_created_at",
            ["user_id", "created_at"],
            unique=False,
            postgresql_include=ANALYTICS_COLUMNS,
        )
        batch_op.create_index(
            "ix_ticket_analyses_rated",
            ["user_id", "created_at"],
            unique=False,
            postgresql_include=RATED_COLUMNS,
            postgresql_where=sa.text("feedback_at IS NOT NULL"),
            sqlite_where=sa.text("feedback_at IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket_analyses", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_analyses_rated")
        batch_op.drop_index("ix_ticket_analyses_user_id_created_at")
        batch_op.create_index(
            "ix_ticket_analyses_user_id_created_at", ["user_id", "created_at"], unique=False
        )
