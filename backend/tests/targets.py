"""What the test suite may touch, named by documented environment variables.

- `TEST_DATABASE_URL` (default `postgresql+psycopg2://postgres@127.0.0.1:5432/test`): the
  database the suite drops and migrates; `sqlite` means a temporary SQLite file.
- `TEST_REDIS_URL` (default `redis://127.0.0.1:6379/15`): the Celery broker of worker tests.
- `TEST_FAULTS_REDIS_URL` (default `redis://127.0.0.1:6379/13`): Redis for fault,
  rate-limit and health tests.

`scripts/test.sh` runs the SQLite pass beside the PostgreSQL one, with these two set from
`TEST_SQLITE_REDIS_URL` (default `redis://127.0.0.1:6379/14`) and
`TEST_SQLITE_FAULTS_REDIS_URL` (default `redis://127.0.0.1:6379/12`), and the system tests
(tests/operations, tests/worker, tests/faults) on PostgreSQL beside both, with the database
set from `TEST_SYSTEM_DATABASE_URL` (default: TEST_DATABASE_URL with `_system` appended,
created if missing) and these two from `TEST_SYSTEM_REDIS_URL` (default
`redis://127.0.0.1:6379/9`) and `TEST_SYSTEM_FAULTS_REDIS_URL` (default
`redis://127.0.0.1:6379/8`).

The suite wipes these, so it refuses a database whose name does not contain `test`, Redis
database 0, and a Redis database that holds keys without the suite's marker key.
"""

from __future__ import annotations

import os
import tempfile

import psycopg2
import psycopg2.errors
import redis
from sqlalchemy.engine import make_url

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_FAULTS_REDIS_URL = os.environ.get("TEST_FAULTS_REDIS_URL", "redis://127.0.0.1:6379/13")
REDIS_MARKER_KEY = "ticket-triage:test-database"


class UnsafeTestTarget(RuntimeError):
    """A configured test target looks like real data: the suite will not wipe it."""


def resolve_test_database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    if url == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='triage-test-')}/test.db"
    database = make_url(url).database or ""
    if "test" not in os.path.basename(database).lower():
        raise UnsafeTestTarget(
            f"TEST_DATABASE_URL names the database {database!r}: the suite drops its schema, "
            "so it only runs on a database whose name contains 'test'"
        )
    return url


def create_missing_database(url: str) -> None:
    """Create the PostgreSQL test database `url` names if the server lacks it (the system
    tests' database is not one the machine starts with)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    options = {"host": parsed.host, "port": parsed.port or 5432, "user": parsed.username,
               "password": parsed.password}  # fmt: skip
    try:
        psycopg2.connect(dbname=parsed.database, **options).close()
        return
    except psycopg2.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise  # unreachable: the engine fixture reports it
    admin = psycopg2.connect(dbname="postgres", **options)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{parsed.database}"')
    except psycopg2.errors.DuplicateDatabase:
        pass  # another run created it meanwhile
    finally:
        admin.close()


def wipe_redis(client: redis.Redis) -> None:
    """FLUSHDB a test Redis database, refusing one that may hold someone else's data."""
    database = int(client.connection_pool.connection_kwargs.get("db", 0))
    if database == 0:
        raise UnsafeTestTarget("the suite never wipes Redis database 0: pick another number")
    if client.dbsize() and not client.exists(REDIS_MARKER_KEY):
        raise UnsafeTestTarget(
            f"Redis database {database} holds keys the suite did not write: empty it or pick "
            "another number (TEST_REDIS_URL, TEST_FAULTS_REDIS_URL)"
        )
    client.flushdb()
    client.set(REDIS_MARKER_KEY, "1")
