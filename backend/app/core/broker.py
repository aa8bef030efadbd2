"""Celery's broker transports, with kombu defects worked around through its public
extension points (a transport class named by Celery's `broker_transport` setting).

Redis: Redis dropping while a task runs must not kill the worker.

When Redis goes away while the consumer waits for a message, Celery's consumer first calls
`Connection.collect()`. Closing the channel raises halfway there (its BRPOP socket is
gone); collect() swallows that and detaches the transport from its connection
(`transport.client = None`). Celery then calls `Connection.close()`, which closes the
half-closed channel again: restoring its unacknowledged messages (and, later, acknowledging
the running task) builds a new Redis pool from `transport.client`, and None raises
AttributeError ('NoneType' object has no attribute 'hostname'). That is not a connection
error, so the worker stops with "Unrecoverable error".

This transport keeps the last connection it was given, so those calls reach Redis again, or
fail with a connection error that Celery handles (the message then stays in the unacked
index, and the visibility timeout hands it to a worker again).

SQLite (the embedded default): a job whose worker was killed must not wait for beat's sweep;
see `_AcknowledgingSqlChannel` and `requeue_orphaned`.
"""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import sqlalchemy as kombu_sqlalchemy
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

REDIS_TRANSPORT = "app.core.broker:RedisTransport"


class RedisTransport(kombu_redis.Transport):  # type: ignore[misc]
    _last_client: Any = None

    @property  # type: ignore[override]
    def client(self) -> Any:
        return self._last_client

    @client.setter
    def client(self, connection: Any) -> None:
        if connection is not None:  # kombu detaches it on close; channels still need it
            self._last_client = connection


def celery_broker(broker_url: str) -> tuple[str, str | None]:
    """The URL and transport Celery should use for `broker_url` (None: the URL's scheme).
    kombu takes a `sqla+` prefix over any transport given, so it is dropped for ours."""
    if broker_url.startswith("redis://"):
        return broker_url, REDIS_TRANSPORT
    if broker_url.startswith(SQLITE_BROKER_PREFIX + "sqlite:"):
        return broker_url.removeprefix(SQLITE_BROKER_PREFIX), SQLITE_TRANSPORT
    return broker_url, None


# --- the embedded default's SQLite broker ----------------------------------------------------


class _AcknowledgingSqlChannel(kombu_sqlalchemy.Channel):  # type: ignore[misc]
    """kombu's SQL channel marks a delivered message invisible and never touches it again:
    acknowledged rows pile up, and the message of a worker that died is never delivered
    again. This channel deletes a message's row when it is acknowledged (or rejected), so
    the invisible rows are exactly the deliveries still unacknowledged, which
    `requeue_orphaned` hands back to the queue when no worker holds them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rows: dict[str, int] = {}  # delivery tag -> kombu_message.id
        # The channel's one session is used by the consumer's thread (polling) and by the
        # threads that acknowledge finished tasks (Celery runs an ack at once, in the caller's
        # thread, when the loop has no hub, as with this transport): a session is not
        # thread-safe, so every use of it holds this lock.
        self._session_lock = threading.RLock()

    def _get(self, queue: str) -> dict[str, Any]:
        with self._session_lock:
            return self._get_locked(queue)

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        with self._session_lock:
            super()._put(queue, payload, **kwargs)

    def _purge(self, queue: str) -> int:
        with self._session_lock:
            return int(super()._purge(queue))

    def _size(self, queue: str) -> int:
        with self._session_lock:
            return int(super()._size(queue))

    def _get_locked(self, queue: str) -> dict[str, Any]:
        obj = self._get_or_create(queue)
        try:
            if self.session.bind.name == "sqlite":
                self.session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
            message = (
                self.session.query(self.message_cls)
                .filter(self.message_cls.queue_id == obj.id)
                .filter(self.message_cls.visible != False)  # noqa: E712
                .order_by(self.message_cls.sent_at, self.message_cls.id)
                .limit(1)
                .first()
            )
            if message is not None:
                message.visible = False
                payload: dict[str, Any] = loads(bytes_to_str(message.payload))
            self._commit()
        except BaseException:
            self.session.rollback()
            raise
        if message is None:
            raise Empty()
        self._rows[payload["properties"]["delivery_tag"]] = message.id
        return payload

    def _commit(self) -> None:
        """Commit, or roll back and raise: a COMMIT that SQLite refuses ("database is
        locked") leaves the session half-committed, and kombu keeps one session per broker
        URL, so every later read would fail and stop the worker."""
        try:
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise

    def _forget(self, delivery_tag: str) -> None:
        row_id = self._rows.pop(delivery_tag, None)
        if row_id is None:
            return
        with self._session_lock:
            try:
                self.session.query(self.message_cls).filter(self.message_cls.id == row_id).delete()
            except BaseException:
                self.session.rollback()
                raise
            self._commit()

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple=multiple)
        self._forget(delivery_tag)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue=requeue)  # requeue: a new row
        self._forget(delivery_tag)

    def _restore(self, message: Any) -> None:
        super()._restore(message)  # at shutdown: back in the queue as a new row
        self._forget(message.delivery_tag)


class SqliteTransport(kombu_sqlalchemy.Transport):  # type: ignore[misc]
    Channel = _AcknowledgingSqlChannel


SQLITE_TRANSPORT = "app.core.broker:SqliteTransport"
SQLITE_BROKER_PREFIX = "sqla+"
# A data directory whose broker rows predate acknowledged deletes: its invisible rows are
# acknowledged messages (or lost ones, which beat's stalled-job sweep hands back), dropped once.
ACK_DELETES_MARKER = "celery-broker.acks-delete-rows"
_held_lock: Any = None  # the open lock file of this worker process, for its lifetime


def requeue_orphaned(broker_url: str, data_dir: Path) -> int:
    """At worker start: hand back to the queue the messages delivered to workers that died
    (SIGKILL, a crash) before acknowledging them, if no other worker on this broker is alive.

    Each worker holds a POSIX lock on a file next to the broker for its lifetime (released
    by the kernel when it dies, not inherited by its pool's forks): a worker that gets it
    exclusively is alone, so every unacknowledged row is an orphan. Returns how many."""
    global _held_lock
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / "celery-broker.lock").open("a+")
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fcntl.lockf(lock, fcntl.LOCK_SH)  # other workers are alive: their rows are theirs
        _held_lock = lock
        return 0
    try:
        engine = create_engine(broker_url.removeprefix(SQLITE_BROKER_PREFIX), poolclass=NullPool)
        marker = data_dir / ACK_DELETES_MARKER
        try:
            with engine.begin() as connection:
                if not inspect(connection).has_table("kombu_message"):
                    marker.touch()
                    return 0
                if not marker.exists():
                    connection.execute(text("DELETE FROM kombu_message WHERE visible = 0"))
                    marker.touch()
                    return 0
                result = connection.execute(
                    text("UPDATE kombu_message SET visible = 1 WHERE visible = 0")
                )
                return int(result.rowcount or 0)
        finally:
            engine.dispose()
    finally:
        fcntl.lockf(lock, fcntl.LOCK_SH)
        _held_lock = lock
