"""kombu's Redis transport with one defect worked around: Redis dropping while a task runs
must not kill the worker.

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
index, and the visibility timeout hands it to a worker again). Celery selects it through its
public `broker_transport` setting.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis

REDIS_TRANSPORT = "app.broker:RedisTransport"


class RedisTransport(kombu_redis.Transport):  # type: ignore[misc]
    _last_client: Any = None

    @property  # type: ignore[override]
    def client(self) -> Any:
        return self._last_client

    @client.setter
    def client(self, connection: Any) -> None:
        if connection is not None:  # kombu detaches it on close; channels still need it
            self._last_client = connection


def transport_for(broker_url: str) -> str | None:
    """The transport Celery should use for `broker_url` (None: the URL's own scheme)."""
    return REDIS_TRANSPORT if broker_url.startswith("redis://") else None
