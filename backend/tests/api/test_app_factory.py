"""The application is built from the settings it is given, closes its upstream clients when
it stops, and never imports the simulators (only the embedded default mounts the sandbox)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from app.config import Settings, get_settings
from app.embedded import create_embedded_app
from app.integrations.zendesk import ZendeskCredentials, get_client
from app.main import create_app
from sandbox.zendesk import DEFAULT_API_TOKEN, DEFAULT_EMAIL

BACKEND_DIR = Path(__file__).resolve().parents[2]


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


def test_the_production_app_never_imports_the_simulators(tmp_path: Path) -> None:
    script = (
        "import sys; from app.main import create_app; create_app(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sandbox'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "ENV": "test", "SANDBOX_ENABLED": "true", "DATA_DIR": str(tmp_path)},
    )
    assert result.stdout.strip() == "[]"
