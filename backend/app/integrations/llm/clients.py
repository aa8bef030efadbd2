"""Pooled SDK clients per account and endpoint, in a bounded cache; none follows redirects."""

from __future__ import annotations

import hashlib
import itertools
import ssl
import threading
from functools import lru_cache

import httpx2  # the openai SDK's HTTP stack (SDK 3.x)
import openai

from app.integrations.client_cache import ClientCache

POOL_SHARDS = 16
"""SDK clients (connection pools) per account and endpoint. The HTTP pool checks every idle
connection (a `select()` each) whenever it hands one out, so one pool serving a 100-thread
batch costs more CPU per call than the call itself; small pools keep that scan short."""

_shard_of_thread = threading.local()
_next_shard = itertools.count()


def _close_shards(shards: tuple[openai.OpenAI, ...]) -> None:
    for client in shards:
        client.close()


clients: ClientCache[tuple[openai.OpenAI, ...]] = ClientCache(
    _close_shards, is_closed=lambda shards: shards[0].is_closed()
)


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One TLS context (the SDK's default trust store) for every pool: building one costs
    ~30 ms of CPU, which each client would otherwise pay again."""
    return httpx2.create_ssl_context()


def sdk_client(
    api_key: str,
    base_url: str | None,
    *,
    timeout_s: float | None = None,
    max_retries: int | None = None,
) -> openai.OpenAI:
    """An SDK client whose HTTP client never follows a redirect: the address guard checked
    `base_url`, not wherever a 3xx points (a redirect is an upstream error instead)."""
    options: dict[str, float | int] = {}
    if timeout_s is not None:
        options["timeout"] = timeout_s
    if max_retries is not None:
        options["max_retries"] = max_retries
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,
        http_client=openai.DefaultHttpxClient(verify=_tls_context(), follow_redirects=False),
        **options,  # type: ignore[arg-type]
    )


def shared_clients(api_key: str, base_url: str | None) -> tuple[openai.OpenAI, ...]:
    """The SDK clients of an account and endpoint, created once while cached; the SDK is
    thread-safe."""
    key = (hashlib.sha256(api_key.encode()).hexdigest(), base_url)
    return clients.get(
        key, lambda: tuple(sdk_client(api_key, base_url) for _ in range(POOL_SHARDS))
    )


def thread_shard() -> int:
    """A fixed pool shard per thread, so a thread keeps reusing its own connections."""
    shard = getattr(_shard_of_thread, "index", None)
    if shard is None:
        shard = _shard_of_thread.index = next(_next_shard) % POOL_SHARDS
    return shard


def clear_client_cache() -> None:
    """Close every cached client (application shutdown, tests)."""
    clients.close_all()
