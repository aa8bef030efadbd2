"""The built-in Zendesk sandbox mounted in the API (the embedded default's Zendesk)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from app.embedded import create_embedded_app
from sandbox.zendesk import DEFAULT_API_TOKEN, DEFAULT_EMAIL


def test_the_sandboxs_urls_include_where_it_is_mounted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "sandbox_enabled", True)
    with TestClient(create_embedded_app()) as client:
        auth = (f"{DEFAULT_EMAIL}/token", DEFAULT_API_TOKEN)
        ticket = client.get("/sandbox/zendesk/api/v2/tickets/1.json", auth=auth).json()["ticket"]
        assert ticket["url"] == "http://testserver/sandbox/zendesk/api/v2/tickets/1.json"
        followed = client.get(ticket["url"], auth=auth)
        assert followed.status_code == 200 and followed.json()["ticket"]["id"] == 1
        page = client.get("/sandbox/zendesk/api/v2/tickets.json?per_page=2", auth=auth).json()
        assert page["next_page"].startswith(
            "http://testserver/sandbox/zendesk/api/v2/tickets.json?"
        )
        following = client.get(page["next_page"], auth=auth)
        assert following.status_code == 200 and len(following.json()["tickets"]) == 2
