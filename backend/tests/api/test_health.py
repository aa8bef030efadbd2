import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from tests.targets import TEST_FAULTS_REDIS_URL


def test_health_is_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_checks_database(client: TestClient) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


def test_ready_is_503_naming_redis_when_redis_is_down(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "redis_url", "redis://127.0.0.1:1/0")
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"database": "ok", "redis": "unreachable"}


def test_ready_includes_redis_when_configured_and_up(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "redis_url", TEST_FAULTS_REDIS_URL)
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "ok"
