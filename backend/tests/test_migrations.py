"""Migrations build the schema on a fresh database and match the models exactly."""

import tempfile
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from app.database import make_engine
from app.migrations import downgrade_base, upgrade_head
from app.models import Base
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture(params=["postgresql", "sqlite"])
def fresh_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An empty database of each backend, separate from the suite's own."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/migrations.db")
        yield engine
        engine.dispose()
        return
    base_url = make_url(TEST_DATABASE_URL)
    if base_url.get_backend_name() != "postgresql":
        base_url = make_url("postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    admin = make_engine(
        base_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    name = "triage_migrations_test"
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine = make_engine(base_url.set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_upgrade_builds_every_table_and_matches_models(fresh_engine: Engine) -> None:
    with fresh_engine.begin() as connection:
        upgrade_head(connection)
    tables = set(inspect(fresh_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with fresh_engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_downgrade_then_upgrade_round_trips(fresh_engine: Engine) -> None:
    with fresh_engine.begin() as connection:
        upgrade_head(connection)
    with fresh_engine.begin() as connection:
        downgrade_base(connection)
    assert set(inspect(fresh_engine).get_table_names()) <= {"alembic_version"}
    with fresh_engine.begin() as connection:
        upgrade_head(connection)
    assert "tickets" in inspect(fresh_engine).get_table_names()
