"""Alembic environment: the URL comes from the app's settings (or a passed connection)."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection

from app.config import get_settings
from app.database import make_engine
from app.models import Base, UTCDateTime

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our UTCDateTime as a plain timezone-aware DateTime in migration files."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode for ALTER TABLE
        compare_type=True,
        render_item=render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=get_settings().database_url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    """On SQLite, foreign keys are off while migrating: batch mode rebuilds a table by
    dropping it, which would otherwise cascade into the rows that reference it. The pragma
    only takes effect outside a transaction, so it is set first; the pool turns it back on
    at the next checkout (app.database), and dangling references fail the migration."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite and not connection.in_transaction():
        # On the driver's connection: through SQLAlchemy the pragma would open a transaction
        # (app.database emits BEGIN), inside which SQLite ignores it.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if dangling:
                raise RuntimeError(f"migration left dangling foreign keys: {dangling[:5]}")
    if sqlite and not connection.in_transaction():
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = make_engine(config.attributes.get("database_url") or get_settings().database_url)
    with engine.connect() as connection:
        _run_on(connection)
        # The PRAGMA began the connection's transaction, so Alembic's own did not commit.
        connection.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
