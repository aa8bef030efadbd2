"""PostgreSQL going away under a running API, simulated with a TCP proxy in front of it: while
it is down requests fail fast with a 503 in the error shape, and once it is back (or after a
restart that killed every pooled connection) requests succeed again without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.config import get_settings
from app.database import get_engine, get_session_factory
from app.main import create_app
from tests.factories import DEFAULT_PASSWORD, sign_up
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres_only


@dataclass
class ProxiedApi:
    client: TestClient
    proxy: TcpProxy
    headers: dict[str, str]
    email: str


@pytest.fixture
def api(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProxiedApi]:
    """An app whose engine reaches the test database through the proxy; a committed user."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the outage is simulated in front of PostgreSQL")
    url = engine.url
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        monkeypatch.setattr(
            get_settings(), "database_url", proxied.render_as_string(hide_password=False)
        )
        get_engine.cache_clear()
        get_session_factory.cache_clear()
        email = f"outage-{time.monotonic_ns()}@example.com"
        try:
            with TestClient(create_app(), raise_server_exceptions=False) as client:
                yield ProxiedApi(client, proxy, sign_up(client, email), email)
        finally:
            get_engine().dispose()
            get_engine.cache_clear()
            get_session_factory.cache_clear()
            with engine.begin() as connection:
                connection.execute(text("DELETE FROM users WHERE email = :e"), {"e": email})


def assert_unavailable(response_status: int, body: dict, elapsed_s: float) -> None:
    assert response_status == 503, body
    assert body["error"]["code"] == "service_unavailable"
    assert "database" in body["error"]["message"].lower()
    assert body["error"]["request_id"]
    assert elapsed_s < 3, f"took {elapsed_s:.1f} s: should fail fast, not hang"


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_requests_fail_fast_with_503_while_the_database_is_down_and_recover(
    api: ProxiedApi,
) -> None:
    client = api.client
    assert client.get("/tickets/", headers=api.headers).status_code == 200
    api.proxy.cut()

    for call in (
        lambda: client.get("/auth/me", headers=api.headers),
        lambda: client.get("/tickets/", headers=api.headers),
        lambda: client.post(
            "/auth/login", data={"username": api.email, "password": DEFAULT_PASSWORD}
        ),
        lambda: client.post("/tickets/process", json={"ticket_id": 1}, headers=api.headers),
    ):
        response, elapsed_s = timed(call)
        assert_unavailable(response.status_code, response.json(), elapsed_s)
        assert response.headers["retry-after"]

    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unreachable"
    assert client.get("/health").status_code == 200  # liveness does not depend on it

    api.proxy.resume()
    assert client.get("/auth/me", headers=api.headers).status_code == 200
    assert client.get("/tickets/", headers=api.headers).status_code == 200
    assert client.get("/health/ready").status_code == 200


@pytest.mark.parametrize("path", ["/auth/me", "/tickets/"])  # the sync pool, the async one
def test_a_restart_that_drops_every_pooled_connection_is_invisible(
    api: ProxiedApi, path: str
) -> None:
    client = api.client
    for _ in range(5):
        assert client.get(path, headers=api.headers).status_code == 200
    accepted = api.proxy.connections_accepted
    api.proxy.cut()  # the server goes away and comes straight back
    api.proxy.resume()
    statuses = [client.get(path, headers=api.headers).status_code for _ in range(10)]
    assert statuses == [200] * 10
    assert api.proxy.connections_accepted > accepted  # dead connections were replaced


def test_a_failed_write_during_the_outage_is_not_half_stored(api: ProxiedApi) -> None:
    client = api.client
    api.proxy.cut()
    email = f"during-outage-{time.monotonic_ns()}@example.com"
    response = client.post("/auth/register", json={"email": email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 503
    api.proxy.resume()
    retry = client.post("/auth/register", json={"email": email, "password": DEFAULT_PASSWORD})
    assert retry.status_code == 201
    with get_engine().begin() as connection:
        connection.execute(text("DELETE FROM users WHERE email = :e"), {"e": email})
