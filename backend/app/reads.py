"""Where a read route's database work runs: on PostgreSQL on the event loop, through the
async driver (asyncpg), instead of in a worker thread.

The hop to a worker thread and back (waking the thread, the GIL passing between it and the
event loop) cost about a third of a small read's API CPU under load: the same load bench
read 2.3 ms of CPU per read with the hop and 1.6 ms without. The work itself stays
synchronous SQLAlchemy code (`Session`): `AsyncSession.run_sync` runs it in a greenlet on
the loop, where each round trip to the server awaits instead of blocking.

SQLite (the embedded default) has no such driver worth having (aiosqlite runs each
connection in a thread of its own): its reads keep the worker thread, as do sessions the
tests hand to a route. Either way a route writes `await reader.run(work)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Protocol, TypeVar

import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy import event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from app.database import (
    ReadOnlySessionError,
    check_connections_at_checkout,
    get_read_session_factory,
    load_json,
)

T = TypeVar("T")

READ_POOL_SIZE = 10
"""Connections of an API process's async read pool (beside the synchronous engine's)."""


class Reader(Protocol):
    """Runs a read route's database work, a function of a read-only `Session`."""

    async def run(self, work: Callable[[Session], T]) -> T: ...


class ThreadReader:
    """The work in a worker thread, on a synchronous read session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def run(self, work: Callable[[Session], T]) -> T:
        return await anyio.to_thread.run_sync(work, self.session)


class LoopReader:
    """The work on the event loop, on the async driver's session (`AsyncSession.run_sync`:
    the same synchronous code, its round trips awaited)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def run(self, work: Callable[[Session], T]) -> T:
        try:
            return await self.session.run_sync(work)
        except (OSError, TimeoutError) as exc:
            # asyncpg's connect lets a refused or timed-out connection through as is, where
            # psycopg2's is an OperationalError: the app's 503 for an unreachable database.
            raise OperationalError("connect", None, exc) from exc


class _ReadOnlySession(Session):
    """The synchronous face of a loop reader's session; a flush in it is refused."""


@event.listens_for(_ReadOnlySession, "before_flush")
def _refuse_writes(_session: Session, _context: Any, _instances: Any) -> None:
    raise ReadOnlySessionError("a read route's session cannot write (use SessionDep)")


def async_read_engine(database_url: str, **kwargs: Any) -> AsyncEngine | None:
    """The async engine of the read routes for `database_url` (PostgreSQL through asyncpg,
    AUTOCOMMIT as the synchronous read sessions are), or None where reads keep the worker
    thread: another database, or connection options only psycopg2 understands."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql" or url.query:
        return None
    from sqlalchemy.ext.asyncio import create_async_engine

    # Reads on the loop are not held back by a pool of worker threads: every request in
    # flight asks for a connection at once. A fixed pool (no overflow) makes the excess wait
    # for one, where overflow connections were opened and closed by the hundred a second
    # (and each new connection prepared its statements again).
    kwargs.setdefault("pool_size", READ_POOL_SIZE)
    kwargs.setdefault("max_overflow", 0)
    engine = create_async_engine(
        url.set(drivername="postgresql+asyncpg"),
        isolation_level="AUTOCOMMIT",
        json_deserializer=load_json,
        pool_recycle=1800,
        **kwargs,
    )
    # The synchronous pool's check at checkout (a connection the server closed is replaced,
    # one idle a while pinged), asking asyncpg whether it saw the connection's end.
    check_connections_at_checkout(
        engine.sync_engine, looks_alive=lambda raw: not raw.driver_connection.is_closed()
    )
    return engine


def loop_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=_ReadOnlySession)


async def get_reader(request: Request) -> AsyncIterator[Reader]:
    """The request's reader: the app's loop sessions when it has them (`app.state.
    loop_reads`, set up by the lifespan), else a synchronous read session."""
    factory: async_sessionmaker[AsyncSession] | None = getattr(
        request.app.state, "loop_reads", None
    )
    if factory is None:
        session = get_read_session_factory()()
        try:
            yield ThreadReader(session)
        finally:
            session.close()
        return
    async with factory() as loop_session:
        yield LoopReader(loop_session)


ReaderDep = Annotated[Reader, Depends(get_reader, scope="function")]
