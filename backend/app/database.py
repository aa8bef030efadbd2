"""Engine, session factories (the read routes' sessions without a transaction among them),
the request session dependency (a transaction) and a session context manager."""

from __future__ import annotations

import json
import re
import select
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
import orjson
from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, Executable, Result, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from app import unit_of_work
from app.config import get_settings

SQLITE_BEGIN_OPTION = "sqlite_begin"
"""Execution option naming how a SQLite transaction begins: DEFERRED (the default: no lock
until the first write) or IMMEDIATE (the write lock at BEGIN, waiting up to the busy
timeout). The app's sessions begin IMMEDIATE: a deferred transaction that read first cannot
wait for the lock, so its first write fails at once ("database is locked") whenever another
connection committed after that read, and the API and the worker write side by side."""


PING_AFTER_IDLE_S = 10.0
"""A pooled connection idle longer than this is pinged (a round trip) before use."""


_LONG_NUMBER = re.compile(r"\d{19}")


def load_json(document: str | bytes) -> Any:
    """A JSON column's value: orjson's parse, about five times faster than `json.loads` on
    the small documents of a row (tags, counts), which read routes parse by the dozen per
    request. `json.loads` parses what orjson would change or refuse and Python's json may
    have written: integers beyond 64 bits (orjson reads them as floats), NaN, Infinity."""
    if not _LONG_NUMBER.search(document if isinstance(document, str) else document.decode()):
        try:
            return orjson.loads(document)
        except orjson.JSONDecodeError:
            pass
    return json.loads(document)


def make_engine(
    database_url: str, *, ping_after_idle_s: float = PING_AFTER_IDLE_S, **kwargs: Any
) -> Engine:
    """Create an engine with the pool and pragmas each backend needs (on a server database,
    a pooled connection idle over `ping_after_idle_s` is pinged before use)."""
    kwargs.setdefault("json_deserializer", load_json)
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy's recipe for pysqlite: stop the driver from managing transactions
            # (it emits no BEGIN before a SELECT or a SAVEPOINT, and commits before DDL), so
            # releasing a savepoint cannot commit and DDL is transactional; see _sqlite_begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "checkout")
        def _foreign_keys_on(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            # A migration turns them off on its connection; every checkout has them on.
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    if make_url(database_url).get_driver_name() == "psycopg2":
        # The ORM's multi-row UPDATEs (batch items, analyses) go as one execute_batch
        # per 100 rows instead of a round trip per row.
        kwargs.setdefault("executemany_mode", "values_plus_batch")
        kwargs.setdefault("paramstyle", "format")
    engine = create_engine(database_url, pool_recycle=1800, **kwargs)
    check_connections_at_checkout(engine, ping_after_idle_s)
    return engine


def check_connections_at_checkout(
    engine: Engine,
    ping_after_idle_s: float = PING_AFTER_IDLE_S,
    looks_alive: Callable[[Any], bool] | None = None,
) -> None:
    """Hand out only live connections, without a round trip per checkout.

    A server that closed a connection (a restart, a terminated backend, a proxy reset) has
    sent its FIN or RST, often a FATAL message first: the socket polls readable, where an
    idle connection's never does (we LISTEN to nothing). Such a connection is replaced.
    One idle longer than `ping_after_idle_s` is pinged as well (a host that vanished without
    closing anything). `pool_pre_ping` pinged at every checkout: a round trip a request.
    `looks_alive` replaces the socket poll for a driver without a socket of its own to poll
    (asyncpg's connections, whose protocol sees the end of stream itself).
    """

    @event.listens_for(engine, "checkin")
    def _note_idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _refuse_dead(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if not (looks_alive or connection_looks_alive)(dbapi_connection):
            raise DisconnectionError("the server closed this connection")
        idle_s = time.monotonic() - idle_since if idle_since is not None else 0.0
        if idle_s > ping_after_idle_s and not answers_ping(engine, dbapi_connection):
            raise DisconnectionError("the connection did not answer a ping")


def answers_ping(engine: Engine, dbapi_connection: Any) -> bool:
    try:
        return bool(engine.dialect.do_ping(dbapi_connection))
    except engine.dialect.loaded_dbapi.Error:
        return False


def connection_looks_alive(dbapi_connection: Any) -> bool:
    """False when the driver knows the connection closed, or its socket has something to
    read while idle (the server's goodbye: an error message, EOF or a reset)."""
    if getattr(dbapi_connection, "closed", 0):
        return False
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache
def get_session_factory() -> sessionmaker[Session]:
    return session_factory_for(get_engine())


def session_factory_for(engine: Engine) -> sessionmaker[Session]:
    """The app's sessions on `engine` (on SQLite their transactions begin IMMEDIATE)."""
    return sessionmaker(
        bind=engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}),
        expire_on_commit=False,
    )


def get_read_session_factory() -> sessionmaker[Session]:
    """The read sessions of the current engine (`get_engine`, which tests may replace)."""
    return read_session_factory_for(get_engine())


@lru_cache(maxsize=4)
def read_session_factory_for(engine: Engine) -> sessionmaker[Session]:
    """Sessions of routes that only read, on the same pool; a flush in one is refused.

    On a server database each statement commits on its own (AUTOCOMMIT): a read sends no
    BEGIN and no COMMIT, two round trips and the session's commit work, and closing it
    sends nothing. At PostgreSQL's READ COMMITTED (the engine's) each statement of a
    transaction took a snapshot of its own anyway. On SQLite (where resetting AUTOCOMMIT at
    checkin would undo the connection's set-up) a read's transaction begins DEFERRED
    instead: no write lock, and its end is local.
    """
    if engine.dialect.name == "sqlite":
        bind = engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
    else:
        bind = engine.execution_options(isolation_level="AUTOCOMMIT")
    factory = sessionmaker(bind=bind, expire_on_commit=False)
    event.listen(factory, "before_flush", _refuse_writes)
    return factory


class ReadOnlySessionError(RuntimeError):
    """A read route's session was asked to write: a programming error."""


def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    raise ReadOnlySessionError("a read route's session cannot write (use SessionDep)")


@contextmanager
def session_scope(sender: unit_of_work.Sender | None = None) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on error (tasks, scripts); jobs the
    services enqueued are sent after the commit, and dropped on rollback."""
    session = get_session_factory()()
    try:
        yield session
    except BaseException:
        _abandon(session)
        raise
    _finish(session, sender)


async def get_db(request: Request) -> AsyncIterator[Session]:
    """Request-scoped session; the request owns the transaction and commits at the end.

    session_scope's steps, with the I/O in a worker thread: opening a session does none (the
    connection is taken at its first query, in the route's thread), so only the end (commit
    or rollback, close, send) takes one hop, shielded so that a client going away cannot
    leave the transaction open. A sync generator would cost a hop at each end.
    """
    sender = unit_of_work.request_sender(request)
    session = get_session_factory()()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_abandon, session)
        raise
    if _untouched(session):  # no query, no change: nothing to commit, no hop
        session.close()
        return
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(_finish, session, sender)


def execute_core(session: Session, statement: Executable, params: dict[str, Any]) -> Result[Any]:
    """A Core statement (columns, aggregates: no ORM entities) on the session's connection,
    after a flush (what autoflush does), without the ORM's per-statement set-up: for a read
    route's small queries that set-up costs more CPU than the query."""
    session.flush()
    return session.connection().execute(statement, params)


def _untouched(session: Session) -> bool:
    return not (
        session.in_transaction()
        or session.new
        or session.dirty
        or session.deleted
        or unit_of_work.pending(session)
    )


def _abandon(session: Session) -> None:
    try:
        session.rollback()
        unit_of_work.discard(session)
    finally:
        session.close()


def _finish(session: Session, sender: unit_of_work.Sender) -> None:
    try:
        unit_of_work.commit(session)
    except BaseException:
        _abandon(session)
        raise
    session.close()
    unit_of_work.send_after_commit(session, sender)


# scope="function": commit before the response is sent, so a failed commit is a 500, not
# a success the client saw for data that was never stored.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]
# Routes that only read take a reader instead (`app.reads.ReaderDep`).
