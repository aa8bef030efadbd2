"""users: a random token key every access token carries (changing it revokes older tokens);
on SQLite, AUTOINCREMENT so a deleted user's id is never given to a new account

Revision ID: 0025
Revises: 0010
Create Date: 2026-12-05 15:30:00.000000
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_users = sa.table("users", sa.column("id", sa.Integer), sa.column("token_key", sa.String))


def _recreate_users(nullable_token_key: bool | None, *, autoincrement: bool) -> None:
    """SQLite rebuilds the table (copy, drop, rename): with foreign keys on, dropping it
    would cascade into every user's data, so refuse rather than lose it."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "rebuilding the users table needs PRAGMA foreign_keys=OFF, which alembic/env.py "
            "sets only on a connection with no open transaction (engine.connect(), not "
            "engine.begin()); refusing to run with it on"
        )
    with op.batch_alter_table(
        "users",
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": autoincrement},
    ) as batch:
        if nullable_token_key is None:
            batch.drop_column("token_key")
        else:
            batch.alter_column(
                "token_key", existing_type=sa.String(length=32), nullable=nullable_token_key
            )


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("token_key", sa.String(length=32), nullable=True))
    bind = op.get_bind()
    for user_id in bind.execute(sa.select(_users.c.id)).scalars().all():
        bind.execute(
            _users.update().where(_users.c.id == user_id).values(token_key=secrets.token_hex(16))
        )
    _recreate_users(nullable_token_key=False, autoincrement=True)


def downgrade() -> None:
    _recreate_users(nullable_token_key=None, autoincrement=False)
