"""The application is built from the settings it is given, closes its upstream clients when
it stops, and only the embedded default mounts the sandbox (tests/test_architecture.py
checks that no other module of app imports the simulators)."""

from __future__ import annotations

import gc
import json

from fastapi import FastAPI, HTTPException, status
from fastapi.testclient import TestClient

from app.config import Settings, get_settings
from app.embedded import create_embedded_app
from app.integrations.zendesk import ZendeskCredentials, get_client
from app.main import ROUTERS, add_api_routes, create_app
from app.reads import get_reader
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


def test_the_routes_added_one_by_one_document_what_included_routers_would() -> None:
    included, added = FastAPI(), FastAPI()
    for router in ROUTERS:
        included.include_router(router)
    add_api_routes(added)
    assert added.openapi() == included.openapi()
    assert json.dumps(added.openapi()) == json.dumps(included.openapi())  # same order too


def test_the_apps_dependency_overrides_reach_the_added_routes() -> None:
    def refuse() -> None:
        raise HTTPException(status.HTTP_418_IM_A_TEAPOT, "overridden")

    app = FastAPI()
    add_api_routes(app)
    app.dependency_overrides[get_reader] = refuse
    with TestClient(app) as client:
        for path in ("/tickets/", "/tickets/stats/summary", "/analytics/dashboard"):
            response = client.get(path)
            assert (response.status_code, response.json()) == (418, {"detail": "overridden"})


def test_a_started_api_keeps_its_start_up_objects_out_of_the_collectors_reach() -> None:
    """The app, its routes and models, the mappers: frozen once the API has started, so a
    full collection under load no longer walks them (gc.freeze)."""
    with TestClient(create_app()):
        frozen = gc.get_freeze_count()

    assert frozen > 100_000  # the process's start-up heap, not a handful of objects
    with TestClient(create_app()):
        # once per process, not at every start (what was frozen may since have been freed)
        assert gc.get_freeze_count() <= frozen
