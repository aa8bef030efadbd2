"""training_examples.sentiment: a user's sentiment labels (agent feedback or a confident LLM
answer), so a user's model can learn sentiment as it learns category and urgency

Revision ID: 0049
Revises: 0048
Create Date: 2026-12-05 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0049"
down_revision: str | None = "0048"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SENTIMENTS = ("negative", "neutral", "positive")


def upgrade() -> None:
    with op.batch_alter_table("training_examples", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "sentiment",
                sa.Enum(
                    *SENTIMENTS,
                    name="sentiment",
                    native_enum=False,
                    create_constraint=True,
                    length=16,
                ),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("training_examples", schema=None) as batch_op:
        batch_op.drop_constraint("sentiment", type_="check")  # ck_training_examples_sentiment
        batch_op.drop_column("sentiment")
