"""ticket analyses: the cascade's route as a column, filled from the decision_reason text
(which stays, for people only)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROUTES = (
    "no_llm",
    "mode_local",
    "confident",
    "llm",
    "llm_fallback",
    "batch_pending",
    "batch",
    "batch_failed",
)


def upgrade() -> None:
    with op.batch_alter_table("ticket_analyses") as batch:
        batch.add_column(
            sa.Column(
                "route",
                sa.Enum(
                    *ROUTES, name="route", native_enum=False, create_constraint=True, length=16
                ),
                nullable=True,
            )
        )
    op.create_index(
        "ix_ticket_analyses_user_id_route", "ticket_analyses", ["user_id", "route"], unique=False
    )
    # The text the analysis path wrote, most specific first.
    op.execute(
        """
        UPDATE ticket_analyses SET route = CASE
            WHEN source = 'batch' THEN 'batch'
            WHEN decision_reason LIKE '%→ llm batch pending%' THEN 'batch_pending'
            WHEN decision_reason LIKE '%→ llm batch failed%' THEN 'batch_failed'
            WHEN source = 'fallback' THEN 'llm_fallback'
            WHEN source = 'llm' THEN 'llm'
            WHEN decision_reason LIKE 'cascade: local confident%' THEN 'confident'
            WHEN decision_reason = 'mode=local' THEN 'mode_local'
            ELSE 'no_llm'
        END
        """
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_analyses_user_id_route", table_name="ticket_analyses")
    with op.batch_alter_table("ticket_analyses") as batch:
        batch.drop_constraint("route", type_="check")  # ck_ticket_analyses_route
        batch.drop_column("route")
