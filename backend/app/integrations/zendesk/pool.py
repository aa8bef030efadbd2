"""One shared client per Zendesk account (base URL and credentials)."""

from __future__ import annotations

import threading
from typing import Any

from app.integrations.zendesk.client import ZendeskClient
from app.integrations.zendesk.credentials import ZendeskCredentials, zendesk_base_url

_clients: dict[str, ZendeskClient] = {}
_clients_lock = threading.Lock()


def get_client(base_url: str, credentials: ZendeskCredentials, **options: Any) -> ZendeskClient:
    """The shared client for this account (base URL + credentials); created on first use
    with `options`, later calls return the same instance."""
    key = f"{zendesk_base_url(base_url)}|{credentials.fingerprint()}"
    with _clients_lock:
        client = _clients.get(key)
        if client is None or client.closed:
            client = ZendeskClient(base_url, credentials, **options)
            _clients[key] = client
        return client


def close_all() -> None:
    """Close every cached client (application shutdown, tests)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()
