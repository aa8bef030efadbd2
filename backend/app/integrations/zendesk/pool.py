"""One shared client per Zendesk account (base URL and credentials), in a bounded cache."""

from __future__ import annotations

from typing import Any

from app.integrations.client_cache import ClientCache
from app.integrations.zendesk.client import ZendeskClient
from app.integrations.zendesk.credentials import ZendeskCredentials, zendesk_base_url

clients: ClientCache[ZendeskClient] = ClientCache(
    ZendeskClient.close, is_closed=lambda client: client.closed
)


def get_client(base_url: str, credentials: ZendeskCredentials, **options: Any) -> ZendeskClient:
    """The shared client for this account (base URL + credentials); created on first use
    with `options`, later calls return the same instance while it stays cached."""
    key = f"{zendesk_base_url(base_url)}|{credentials.fingerprint()}"
    return clients.get(key, lambda: ZendeskClient(base_url, credentials, **options))


def close_all() -> None:
    """Close every cached client (application shutdown, tests)."""
    clients.close_all()
