"""users: a role (`user`, `admin`: admins manage every account under /admin), `user` for
every existing account

Revision ID: 0048
Revises: 0047
Create Date: 2026-12-05 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0048"
down_revision: str | None = "0047"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("user", "admin")  # frozen here, not imported from the app


def _batch_users() -> object:
    """SQLite rebuilds `users` (copy, drop, rename): keep its AUTOINCREMENT (0025), and
    refuse with foreign keys on, as dropping it would cascade into every user's data."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("rebuilding the users table on SQLite needs PRAGMA foreign_keys=OFF")
    return op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True})


def upgrade() -> None:
    with _batch_users() as batch:  # type: ignore[attr-defined]
        batch.add_column(
            sa.Column(
                "role",
                sa.Enum(*ROLES, name="role", native_enum=False, create_constraint=True, length=16),
                nullable=False,
                server_default="user",
            )
        )


def downgrade() -> None:
    with _batch_users() as batch:  # type: ignore[attr-defined]
        batch.drop_constraint("role", type_="check")
        batch.drop_column("role")
