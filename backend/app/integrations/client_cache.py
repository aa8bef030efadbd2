"""A bounded, thread-safe cache of pooled upstream clients, least recently used first out.

One pooled client per upstream account keeps connections warm, but accounts come and go
(every saved credential is a new account): without a bound the cache, and the sockets and
buffers of its clients, grow with every credential ever used. An evicted client is closed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

DEFAULT_MAX_CLIENTS = 64

Client = TypeVar("Client")


class ClientCache(Generic[Client]):
    """`get(key, create)` returns the cached client of `key` or creates it; beyond
    `max_clients` the least recently used one is closed and dropped."""

    def __init__(
        self,
        close: Callable[[Client], None],
        *,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        is_closed: Callable[[Client], bool] = lambda _client: False,
    ) -> None:
        if max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        self.max_clients = max_clients
        self._close = close
        self._is_closed = is_closed
        self._clients: OrderedDict[Hashable, Client] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)

    def get(self, key: Hashable, create: Callable[[], Client]) -> Client:
        evicted: list[Client] = []
        with self._lock:
            client = self._clients.get(key)
            if client is not None and not self._is_closed(client):
                self._clients.move_to_end(key)
                return client
            client = create()
            self._clients[key] = client
            self._clients.move_to_end(key)
            while len(self._clients) > self.max_clients:
                evicted.append(self._clients.popitem(last=False)[1])
        for old in evicted:
            self._close(old)
        return client

    def resize(self, max_clients: int) -> None:
        """Change the bound (from settings at start-up); closes what no longer fits."""
        if max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        with self._lock:
            self.max_clients = max_clients
            evicted = []
            while len(self._clients) > max_clients:
                evicted.append(self._clients.popitem(last=False)[1])
        for old in evicted:
            self._close(old)

    def close_all(self) -> None:
        """Close and drop every client (application shutdown, tests)."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            self._close(client)
