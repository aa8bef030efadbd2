"""The application is built from the settings it is given, closes its upstream clients when
it stops, and only the embedded default mounts the sandbox (tests/test_architecture.py
checks that no other module of app imports the simulators)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings, get_settings
from app.embedded import create_embedded_app
from app.integrations.zendesk import ZendeskCredentials, get_client
from app.main import create_app
from sandbox.zendesk import DEFAULT_API_TOKEN, DEFAULT_EMAIL


def settings(**overrides: object) -> Settings:
    return get_settings().model_copy(update=overrides)


def test_create_app_uses_the_settings_it_is_given() -> None:
    config = settings(max_request_body_bytes=2048, cors_origins=["https://ops.example.com"])

    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        too_large = client.post("/auth/register", content=b"x" * 4096)
        preflight = client.options(
            "/health",
            headers={
                "Origin": "https://ops.example.com",
                "Access-Control-Request-Method": "GET",
            },
        )

    assert too_large.status_code == 413
    assert preflight.headers["access-control-allow-origin"] == "https://ops.example.com"


def test_shutdown_closes_the_pooled_upstream_clients(zendesk_url: str) -> None:
    with TestClient(create_app(settings())):
        client = get_client(zendesk_url, ZendeskCredentials(DEFAULT_EMAIL, DEFAULT_API_TOKEN))
        assert not client.closed

    assert client.closed


def test_only_the_embedded_app_mounts_the_sandbox() -> None:
    config = settings(sandbox_enabled=True)
    auth = (f"{DEFAULT_EMAIL}/token", DEFAULT_API_TOKEN)
    path = "/sandbox/zendesk/api/v2/tickets/1.json"

    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        assert client.get(path, auth=auth).status_code == 404
    with TestClient(create_embedded_app(config)) as client:
        assert client.get(path, auth=auth).status_code == 200
