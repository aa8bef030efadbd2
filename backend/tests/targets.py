"""What the test suite may touch, named by documented environment variables.

- `TEST_DATABASE_URL` (default `postgresql+psycopg2://postgres@127.0.0.1:5432/test`): the
  database the suite drops and migrates; `sqlite` means a temporary SQLite file.
- `TEST_REDIS_URL` (default `redis://127.0.0.1:6379/15`): the Celery broker of worker tests.
- `TEST_FAULTS_REDIS_URL` (default `redis://127.0.0.1:6379/13`): Redis for fault,
  rate-limit and health tests.

`scripts/test.sh` runs the SQLite pass beside the PostgreSQL one, with these two set from
`TEST_SQLITE_REDIS_URL` (default `redis://127.0.0.1:6379/14`) and
`TEST_SQLITE_FAULTS_REDIS_URL` (default `redis://127.0.0.1:6379/12`).

The suite wipes these, so it refuses a database whose name does not contain `test`, Redis
database 0, and a Redis database that holds keys without the suite's marker key.
"""

from __future__ import annotations

import os
import tempfile

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
