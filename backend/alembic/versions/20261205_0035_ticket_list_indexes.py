"""tickets: indexes for the ticket list's filters and sorts; a trigram index for the subject
search (`q=`) on PostgreSQL

Revision ID: 0035
Revises: 0012
Create Date: 2026-12-05 16:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0035"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BTREE_INDEXES = {
    "ix_tickets_user_id_status_updated_at": ["user_id", "status", "updated_at"],
    "ix_tickets_user_id_zendesk_created_at": ["user_id", "zendesk_created_at"],
    "ix_tickets_user_id_subject": ["user_id", "subject"],
}


def upgrade() -> None:
    for name, columns in BTREE_INDEXES.items():
        op.create_index(name, "tickets", columns, unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension: a database owner may create it (PostgreSQL 13+).
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_tickets_subject_trgm",
            "tickets",
            ["subject"],
            postgresql_using="gin",
            postgresql_ops={"subject": "gin_trgm_ops"},
        )
    else:  # no trigrams: a plain index keeps the schema's index names the same everywhere
        op.create_index("ix_tickets_subject_trgm", "tickets", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_tickets_subject_trgm", table_name="tickets")
    for name in reversed(BTREE_INDEXES):
        op.drop_index(name, table_name="tickets")
