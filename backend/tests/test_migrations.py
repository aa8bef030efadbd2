"""Migrations build the schema on a fresh database and match the models exactly."""

import os
import tempfile
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from app.core.migrations import alembic_config, downgrade_base, upgrade_head
from app.database import make_engine
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
    # Beside the suite's own test database, one per process: parallel runs never share it.
    name = f"{base_url.database}_migrations_{os.getpid()}"
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
    with fresh_engine.connect() as connection:
        upgrade_head(connection)
    tables = set(inspect(fresh_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with fresh_engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_downgrade_then_upgrade_round_trips(fresh_engine: Engine) -> None:
    with fresh_engine.connect() as connection:
        upgrade_head(connection)
    with fresh_engine.connect() as connection:
        downgrade_base(connection)
    assert set(inspect(fresh_engine).get_table_names()) <= {"alembic_version"}
    with fresh_engine.connect() as connection:
        upgrade_head(connection)
    assert "tickets" in inspect(fresh_engine).get_table_names()


def test_token_key_migration_keeps_every_users_data_and_stops_id_reuse(
    fresh_engine: Engine,
) -> None:
    """0025 rebuilds `users` on SQLite (for AUTOINCREMENT): rows that reference users stay."""
    with fresh_engine.connect() as connection:
        command.upgrade(alembic_config(connection), "0010")
    with fresh_engine.begin() as connection:
        for n in (1, 2, 3):
            connection.execute(
                text(
                    "INSERT INTO users (email, hashed_password, timezone, is_active,"
                    " created_at, updated_at) VALUES (:email, 'x', 'UTC', true,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"email": f"u{n}@example.com"},
            )
            user_id = connection.execute(
                text("SELECT id FROM users WHERE email = :email"), {"email": f"u{n}@example.com"}
            ).scalar()
            connection.execute(
                text(
                    "INSERT INTO tickets (user_id, zendesk_ticket_id, subject, description,"
                    " tags, created_at, updated_at) VALUES (:id, 1, 's', 'd', '[]',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": user_id},
            )
    with fresh_engine.connect() as connection:
        upgrade_head(connection)
    with fresh_engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM tickets")).scalar() == 3
        keys = connection.execute(text("SELECT token_key FROM users")).scalars().all()
        assert len(set(keys)) == 3 and all(len(key) == 32 for key in keys)
        last = connection.execute(text("SELECT max(id) FROM users")).scalar()
        connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": last})
        assert connection.execute(text("SELECT count(*) FROM tickets")).scalar() == 2
        connection.execute(
            text(
                "INSERT INTO users (email, hashed_password, timezone, is_active, token_key,"
                " created_at, updated_at) VALUES ('new@example.com', 'x', 'UTC', true,"
                " :key, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"key": "k" * 32},
        )
        new_id = connection.execute(
            text("SELECT id FROM users WHERE email = 'new@example.com'")
        ).scalar()
    assert new_id is not None and new_id > last
    with fresh_engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        if fresh_engine.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_route_migration_fills_the_column_from_the_decision_reason(fresh_engine: Engine) -> None:
    reasons = {
        ("local", "no LLM configured"): "no_llm",
        ("local", "mode=local"): "mode_local",
        ("local", "cascade: local confident (category 0.97 ≥ 0.93)"): "confident",
        ("local", "cascade: category 0.5 < 0.9 → llm batch pending"): "batch_pending",
        ("local", "mode=llm → llm batch failed (upstream)"): "batch_failed",
        ("llm", "cascade: category 0.5 < 0.9 → llm"): "llm",
        ("fallback", "mode=llm → llm timeout → offline"): "llm_fallback",
        ("batch", "cascade: urgency 0.5 < 0.7 → llm batch"): "batch",
    }
    with fresh_engine.connect() as connection:
        upgrade_head(connection)
    with fresh_engine.connect() as connection:
        command.downgrade(alembic_config(connection), "0011")  # before the route column
    with fresh_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (email, hashed_password, timezone, is_active, token_key,"
                " created_at, updated_at) VALUES ('r@example.com', 'x', 'UTC', true,"
                " :key, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"key": "k" * 32},
        )
        user_id = connection.execute(text("SELECT id FROM users")).scalar()
        for number, (source, reason) in enumerate(reasons, start=1):
            ticket_id = connection.execute(
                text(
                    "INSERT INTO tickets (user_id, zendesk_ticket_id, subject, description,"
                    " tags, created_at, updated_at) VALUES (:user, :number, 's', 'd', '[]',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"user": user_id, "number": number},
            ).scalar()
            connection.execute(
                text(
                    "INSERT INTO ticket_analyses (ticket_id, user_id, category, urgency,"
                    " sentiment, confidence, summary, suggested_tags, source, decision_reason,"
                    " input_tokens, cached_input_tokens, output_tokens, cost_usd,"
                    " processing_time_ms, pii_redactions, tags_written, created_at, updated_at)"
                    " VALUES (:ticket, :user, 'bug', 'low', 'neutral', 0.5, '', '[]', :source,"
                    " :reason, 0, 0, 0, 0, 0, '{}', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"ticket": ticket_id, "user": user_id, "source": source, "reason": reason},
            )
    with fresh_engine.connect() as connection:
        upgrade_head(connection)
    with fresh_engine.connect() as connection:
        rows = connection.execute(
            text("SELECT source, decision_reason, route FROM ticket_analyses")
        ).all()
    assert {(source, reason): route for source, reason, route in rows} == reasons


def _user_and_job(connection: Connection, state: str) -> None:
    connection.execute(
        text(
            "INSERT INTO users (email, hashed_password, timezone, is_active, token_key,"
            " created_at, updated_at) VALUES ('s@example.com', 'x', 'UTC', true,"
            " :key, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        {"key": "k" * 32},
    )
    connection.execute(
        text(
            "INSERT INTO batch_jobs (id, user_id, state, total, done, failed, origin, attempts,"
            " created_at, updated_at) SELECT 'job-1', id, :state, 1, 0, 0, 'api', 0,"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM users"
        ),
        {"state": state},
    )


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("batch_jobs", "state"),
        ("batch_jobs", "origin"),
        ("batch_job_items", "status"),
        ("batch_job_items", "write_back"),
    ],
)
def test_the_database_refuses_a_state_outside_its_enum(
    fresh_engine: Engine, table: str, column: str
) -> None:
    with fresh_engine.connect() as connection:
        upgrade_head(connection)
    with fresh_engine.begin() as connection:
        _user_and_job(connection, "queued")
        connection.execute(
            text(
                "INSERT INTO batch_job_items (job_id, zendesk_ticket_id, position, status)"
                " VALUES ('job-1', 1, 0, 'pending')"
            )
        )
    with pytest.raises(IntegrityError), fresh_engine.begin() as connection:
        connection.execute(text(f"UPDATE {table} SET {column} = 'bogus'"))
    with fresh_engine.connect() as connection:
        assert connection.execute(text(f"SELECT {column} FROM {table}")).scalar() != "bogus"


def test_state_constraints_migration_refuses_rows_outside_the_enums(fresh_engine: Engine) -> None:
    """0040 names the stored values no enum allows and changes nothing; once they are fixed,
    it adds the constraints and keeps every row."""
    with fresh_engine.connect() as connection:
        command.upgrade(alembic_config(connection), "0035")
    with fresh_engine.begin() as connection:
        _user_and_job(connection, "completed")
    with (
        pytest.raises(RuntimeError, match=r"batch_jobs\.state: \['completed'\]"),
        fresh_engine.connect() as connection,
    ):
        upgrade_head(connection)
    with fresh_engine.begin() as connection:
        assert connection.execute(text("SELECT state FROM batch_jobs")).scalar() == "completed"
        connection.execute(text("UPDATE batch_jobs SET state = 'succeeded'"))
    with fresh_engine.connect() as connection:
        upgrade_head(connection)
    with fresh_engine.connect() as connection:
        assert connection.execute(text("SELECT id, state FROM batch_jobs")).one() == (
            "job-1",
            "succeeded",
        )
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_role_migration_makes_every_existing_account_a_user_and_refuses_other_roles(
    fresh_engine: Engine,
) -> None:
    with fresh_engine.connect() as connection:
        command.upgrade(alembic_config(connection), "0047")
    with fresh_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (email, hashed_password, timezone, is_active, token_key,"
                " created_at, updated_at) VALUES ('old@example.com', 'x', 'UTC', true, :key,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"key": "k" * 32},
        )
    with fresh_engine.connect() as connection:
        upgrade_head(connection)
    with fresh_engine.begin() as connection:
        assert connection.execute(text("SELECT role FROM users")).scalar() == "user"
    with pytest.raises(IntegrityError), fresh_engine.begin() as connection:
        connection.execute(text("UPDATE users SET role = 'root'"))
    with fresh_engine.begin() as connection:
        connection.execute(text("UPDATE users SET role = 'admin'"))
        assert connection.execute(text("SELECT role FROM users")).scalar() == "admin"


def test_subject_lower_migration_fills_every_existing_ticket(fresh_engine: Engine) -> None:
    with fresh_engine.connect() as connection:
        upgrade_head(connection)
    with fresh_engine.connect() as connection:
        command.downgrade(alembic_config(connection), "0050")  # before subject_lower
    with fresh_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (email, hashed_password, timezone, is_active, token_key,"
                " role, created_at, updated_at) VALUES ('s@example.com', 'x', 'UTC', true,"
                " :key, 'user', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"key": "k" * 32},
        )
        connection.execute(
            text(
                "INSERT INTO tickets (user_id, zendesk_ticket_id, subject, description, tags,"
                " created_at, updated_at) SELECT id, 7, 'Refund for ORDER 77123', 'd', '[]',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM users"
            )
        )
    with fresh_engine.connect() as connection:
        upgrade_head(connection)
    with fresh_engine.begin() as connection:
        assert connection.execute(text("SELECT subject_lower FROM tickets")).scalar() == (
            "refund for order 77123"
        )
        connection.execute(text("UPDATE tickets SET subject = 'Order 88'"))
        assert connection.execute(text("SELECT subject_lower FROM tickets")).scalar() == "order 88"
