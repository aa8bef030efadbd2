"""Pooled clients per account and endpoint, in a bounded cache; none follows redirects.

The analysis call goes through the account's `ChatTransport` (libcurl handles its threads
share); the SDK clients (`sdk_client`) serve the rest: the connection test, the Batch API.
"""

from __future__ import annotations

import hashlib
import ssl
from functools import lru_cache

import httpx2  # the openai SDK's HTTP stack (SDK 3.x)
import openai

from app.integrations.client_cache import ClientCache
from app.integrations.llm.transport import ChatTransport

clients: ClientCache[ChatTransport] = ClientCache(
    lambda transport: transport.close(), is_closed=lambda transport: transport.closed
)


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One TLS context (the SDK's default trust store) for every SDK client: building one
    costs ~30 ms of CPU, which each client would otherwise pay again."""
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


def shared_transport(api_key: str, base_url: str | None, connections: int) -> ChatTransport:
    """The chat completions transport of an account and endpoint, created once while
    cached (keeping up to `connections` connections the first caller asked for)."""
    key = (hashlib.sha256(api_key.encode()).hexdigest(), base_url)
    return clients.get(
        key,
        lambda: ChatTransport(api_key, base_url, connections=connections),
    )


def clear_client_cache() -> None:
    """Close every cached client (application shutdown, tests)."""
    clients.close_all()
