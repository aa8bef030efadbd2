"""Pooled SDK clients per account and endpoint."""

from __future__ import annotations

import hashlib
import itertools
import ssl
import threading
from functools import lru_cache

import httpx2  # the openai SDK's HTTP stack (SDK 3.x)
import openai

POOL_SHARDS = 16
"""SDK clients (connection pools) per account and endpoint. The HTTP pool checks every idle
connection (a `select()` each) whenever it hands one out, so one pool serving a 100-thread
batch costs more CPU per call than the call itself; small pools keep that scan short."""

_clients: dict[tuple[str, str | None], tuple[openai.OpenAI, ...]] = {}
_clients_lock = threading.Lock()
_shard_of_thread = threading.local()
_next_shard = itertools.count()


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One TLS context (the SDK's default trust store) for every pool: building one costs
    ~30 ms of CPU, which each client would otherwise pay again."""
    return httpx2.create_ssl_context()


def shared_clients(api_key: str, base_url: str | None) -> tuple[openai.OpenAI, ...]:
    """The SDK clients of an account and endpoint, created once; the SDK is thread-safe."""
    key = (hashlib.sha256(api_key.encode()).hexdigest(), base_url)
    with _clients_lock:
        clients = _clients.get(key)
        if clients is None:
            clients = tuple(
                openai.OpenAI(
                    api_key=api_key,
                    base_url=base_url,
                    http_client=openai.DefaultHttpxClient(verify=_tls_context()),
                )
                for _ in range(POOL_SHARDS)
            )
            _clients[key] = clients
        return clients


def thread_shard() -> int:
    """A fixed pool shard per thread, so a thread keeps reusing its own connections."""
    shard = getattr(_shard_of_thread, "index", None)
    if shard is None:
        shard = _shard_of_thread.index = next(_next_shard) % POOL_SHARDS
    return shard


def clear_client_cache() -> None:
    """Close every cached client (application shutdown, tests)."""
    with _clients_lock:
        clients = [client for shards in _clients.values() for client in shards]
        _clients.clear()
    for client in clients:
        client.close()
