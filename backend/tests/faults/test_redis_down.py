"""Redis going away (a TCP proxy in front of it, cut): readiness names it, reads keep working,
the login limit falls back to per-process counters (never a 500) and /metrics still answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import get_settings
from app.core.rate_limit import LoginRateLimiter
from app.main import create_app
from tests.conftest import override_sessions
from tests.factories import DEFAULT_PASSWORD, UserFactory, create_analysed_ticket
from tests.faults.conftest import FAULTS_REDIS_URL
from tests.targets import wipe_redis
from tests.tcp_proxy import TcpProxy

LOGIN_KEYS = "triage:login:*"


@dataclass
class RedisBehindProxy:
    client: TestClient
    proxy: TcpProxy


@pytest.fixture
def api(db: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisBehindProxy]:
    """The app with REDIS_URL pointing at a proxy in front of the test Redis database."""
    direct = redis.Redis.from_url(FAULTS_REDIS_URL)
    wipe_redis(direct)
    target = redis.Redis.from_url(FAULTS_REDIS_URL).connection_pool.connection_kwargs
    database = target.get("db", 0)
    with TcpProxy(target.get("host", "127.0.0.1"), target.get("port", 6379)) as proxy:
        monkeypatch.setattr(
            get_settings(), "redis_url", f"redis://127.0.0.1:{proxy.port}/{database}"
        )
        application = create_app()

        def test_db() -> Iterator[Session]:
            yield db
            db.flush()

        override_sessions(application, test_db)
        with TestClient(application, raise_server_exceptions=False) as client:
            yield RedisBehindProxy(client, proxy)
    wipe_redis(direct)
    direct.close()


def login(client: TestClient, email: str, password: str = DEFAULT_PASSWORD) -> httpx.Response:
    return client.post("/auth/login", data={"username": email, "password": password})


def test_readiness_names_redis_while_it_is_down(api: RedisBehindProxy) -> None:
    assert api.client.get("/health/ready").json()["checks"] == {"database": "ok", "redis": "ok"}
    api.proxy.cut()
    response = api.client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "unreachable"}
    api.proxy.resume()
    assert api.client.get("/health/ready").status_code == 200


def test_reads_keep_working_while_redis_is_down(
    api: RedisBehindProxy, users: UserFactory, db: Session
) -> None:
    user = users.create()
    create_analysed_ticket(db, user)
    token = login(api.client, user.email).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    api.proxy.cut()
    listed = api.client.get("/tickets/", headers=headers)
    assert listed.status_code == 200
    assert listed.json()["total"] == 1
    zendesk_ticket_id = listed.json()["items"][0]["zendesk_ticket_id"]
    assert api.client.get(f"/tickets/{zendesk_ticket_id}", headers=headers).status_code == 200
    assert api.client.get("/auth/me", headers=headers).status_code == 200


def test_login_limit_uses_redis_and_falls_back_to_memory_when_it_is_down(
    api: RedisBehindProxy, users: UserFactory
) -> None:
    settings = get_settings()
    limit = settings.login_attempts_per_minute
    redis_url = settings.redis_url
    api.client.app.state.login_limiter = LoginRateLimiter(  # type: ignore[attr-defined]
        limit,
        redis_url=redis_url,
        slow_base_s=0.01,
        slow_max_s=0.05,  # slowing: not under test
    )
    user = users.create()
    for _ in range(3):
        assert login(api.client, user.email, "wrong-password").status_code == 401
    direct = redis.Redis.from_url(FAULTS_REDIS_URL)
    # per (email, address), per address, and per email: shared by every API process
    counters = {
        key.decode().split(":")[2]: (int(direct.get(key) or 0), direct.ttl(key))
        for key in direct.scan_iter(LOGIN_KEYS)
    }
    assert {kind: count for kind, (count, _) in counters.items()} == {
        "pair": 3,
        "addr": 3,
        "email": 3,
    }
    assert 0 < counters["pair"][1] <= 60 and 0 < counters["addr"][1] <= 60
    assert 60 < counters["email"][1] <= 15 * 60  # the slowing looks back further

    api.proxy.cut()
    assert login(api.client, user.email).status_code == 200  # never a 500
    statuses = [login(api.client, user.email, "wrong").status_code for _ in range(limit + 1)]
    assert statuses == [401] * limit + [429]  # the in-memory window took over
    limited = login(api.client, user.email, "wrong")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limited"


def test_metrics_answer_with_and_without_redis(api: RedisBehindProxy) -> None:
    with_redis = api.client.get("/metrics")
    assert with_redis.status_code == 200
    assert 'triage_queue_depth{queue="celery"}' in with_redis.text
    api.proxy.cut()
    without = api.client.get("/metrics")
    assert without.status_code == 200
    assert "triage_queue_depth" not in without.text
    assert "http_requests_total" in without.text
