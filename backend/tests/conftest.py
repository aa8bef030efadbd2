"""Test fixtures: one migrated database per session, a rolled-back transaction per test.

TEST_DATABASE_URL picks the database (default: the local PostgreSQL `test` database; see
tests/targets.py for every variable); `sqlite` runs the suite on a temporary SQLite file.
An unreachable database fails.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from tests.targets import create_missing_database, resolve_test_database_url

TEST_DATABASE_URL = resolve_test_database_url()

# Settings are read once: set the environment before the app is imported.
os.environ.update(
    {
        "ENV": "test",
        "DATABASE_URL": TEST_DATABASE_URL,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SANDBOX_ENABLED": "false",
        "ENCRYPTION_KEYS": "bX9uqS1xLcD3mQeKcS8c4bJf0m3y8Xb2m6R0W8Q5b3Y=",
        "DATA_DIR": tempfile.mkdtemp(prefix="triage-data-"),
        "ZENDESK_BACKOFF_BASE_S": "0.02",
        "BCRYPT_ROUNDS": "4",  # the minimum: hashing speed is not under test
        "ZENDESK_MAX_RETRIES": "2",
        "ZENDESK_REQUESTS_PER_MINUTE": "100000",
    }
)
os.environ.pop("REDIS_URL", None)

import pytest  # noqa: E402
from fastapi import Depends, FastAPI, Request  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app import unit_of_work  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.core.migrations import upgrade_head  # noqa: E402
from app.database import get_db, get_engine  # noqa: E402
from app.integrations import rate_limits  # noqa: E402
from app.main import create_app, init_state  # noqa: E402
from app.reads import Reader, ThreadReader, get_reader  # noqa: E402
from tests.factories import UserFactory  # noqa: E402

pytest_plugins = ["tests.fixtures_zendesk", "tests.fixtures_openai"]


def reset_schema(engine: Engine) -> None:
    """Drop everything so the session starts from an empty database."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:
            tables = connection.execute(
                text("SELECT name FROM sqlite_master WHERE type='table'")
            ).scalars()
            connection.execute(text("PRAGMA foreign_keys=OFF"))
            for table in list(tables):
                connection.execute(text(f'DROP TABLE IF EXISTS "{table}"'))
            # The connection goes back to the pool: later sessions rely on ON DELETE CASCADE.
            connection.execute(text("PRAGMA foreign_keys=ON"))


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Upstream budgets learned or paused by one test (a 429's Retry-After) never hold back
    the next: every test starts with empty in-process budgets."""
    rate_limits.clear_local_state()
    yield
    rate_limits.clear_local_state()


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    engine = get_engine()
    try:
        create_missing_database(TEST_DATABASE_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # a failure, never a skip
        pytest.exit(f"test database {engine.url!r} is unreachable: {exc}", returncode=3)
    reset_schema(engine)
    with engine.connect() as connection:
        upgrade_head(connection)
    yield engine


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()  # on SQLite too: app.database emits its BEGIN
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


def override_sessions(application: FastAPI, dependency: Callable[..., Any]) -> None:
    """Serve every request session of `application` (the writing routes' and the read
    routes' readers') from `dependency`."""

    async def reader(session: Session = Depends(dependency)) -> Reader:
        return ThreadReader(session)

    application.dependency_overrides[get_db] = dependency
    application.dependency_overrides[get_reader] = reader


_built_apps: dict[str, FastAPI] = {}


def app_for_current_settings() -> FastAPI:
    """The API for the settings as they are now (a test may have changed them), with new
    state and no dependency overrides. An app is built once for each distinct settings and
    reused: building its routes took about 55 ms, for each of several hundred tests."""
    config = get_settings()
    # Secrets dump masked, so settings differing only in one share an app: nothing built
    # with the app reads them (its state, renewed here, and the routes read the settings).
    key = config.model_dump_json()
    application = _built_apps.get(key)
    if application is None:
        application = _built_apps[key] = create_app(config)
    else:
        init_state(application, config)
        application.dependency_overrides.clear()
    return application


@pytest.fixture
def app(db: Session):  # type: ignore[no-untyped-def]
    application = app_for_current_settings()

    def _test_db(request: Request) -> Iterator[Session]:
        """The request's unit of work inside the test's transaction: a flush stands for
        the commit, after which the jobs the request enqueued are sent."""
        try:
            yield db
        except BaseException:
            unit_of_work.discard(db)
            raise
        db.flush()
        unit_of_work.send_after_commit(db, unit_of_work.request_sender(request))

    override_sessions(application, _test_db)
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def users(db: Session, client: TestClient) -> UserFactory:
    return UserFactory(db=db, client=client)
