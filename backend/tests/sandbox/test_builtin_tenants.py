"""The built-in sandbox inside the service: one Zendesk account per user, and webhooks only
to the service's own URLs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.routing import Mount

from app.accounts import integrations
from app.config import get_settings
from app.embedded import create_embedded_app
from sandbox.serve import serve_in_thread
from sandbox.zendesk import DEFAULT_API_TOKEN, DEFAULT_EMAIL
from sandbox.zendesk.builtin import create_builtin_sandbox, tenant_api_token
from tests.conftest import override_sessions
from tests.factories import DEFAULT_PASSWORD, UserFactory

Z = "/sandbox/zendesk/api/v2"
DEMO = (f"{DEFAULT_EMAIL}/token", DEFAULT_API_TOKEN)


@pytest.fixture
def sandbox_client(db: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(get_settings(), "sandbox_enabled", True)
    application = create_embedded_app()

    def _test_db() -> Iterator[Session]:
        yield db
        db.flush()

    override_sessions(application, _test_db)
    with TestClient(application, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def people(db: Session, sandbox_client: TestClient) -> UserFactory:
    return UserFactory(db=db, client=sandbox_client)


def service_auth(user_id: int) -> tuple[str, str]:
    """The credentials the service's own Zendesk client uses for this user's sandbox."""
    target = integrations.zendesk_target(None, user_id=user_id)
    assert target.is_sandbox
    return f"{target.credentials.email}/token", target.credentials.api_token


def test_each_user_has_their_own_sandbox_tickets(
    sandbox_client: TestClient, people: UserFactory
) -> None:
    alice, alice_headers = people.authed()
    bob, bob_headers = people.authed()
    created = sandbox_client.post(
        f"{Z}/tickets.json",
        headers=alice_headers,
        json={"ticket": {"subject": "Alice only", "comment": {"body": "Not for Bob."}}},
    )
    assert created.status_code == 201, created.text
    ticket_id = created.json()["ticket"]["id"]
    changed = sandbox_client.put(
        f"{Z}/tickets/1.json", headers=alice_headers, json={"ticket": {"tags": ["alice_was_here"]}}
    )
    assert changed.status_code == 200

    assert sandbox_client.get(f"{Z}/tickets/{ticket_id}.json", headers=alice_headers).is_success
    assert (
        sandbox_client.get(f"{Z}/tickets/{ticket_id}.json", headers=bob_headers).status_code == 404
    )
    assert sandbox_client.get(f"{Z}/tickets/{ticket_id}.json", auth=DEMO).status_code == 404
    for other in ({"headers": bob_headers}, {"auth": DEMO}):
        seed_ticket = sandbox_client.get(f"{Z}/tickets/1.json", **other).json()["ticket"]
        assert "alice_was_here" not in seed_ticket["tags"]

    # The service reaches the same accounts with the per-user credentials it derives.
    assert sandbox_client.get(
        f"{Z}/tickets/{ticket_id}.json", auth=service_auth(alice.id)
    ).is_success
    assert (
        sandbox_client.get(f"{Z}/tickets/{ticket_id}.json", auth=service_auth(bob.id)).status_code
        == 404
    )


def test_credentials_that_name_no_account_are_refused(
    sandbox_client: TestClient, people: UserFactory
) -> None:
    alice, _ = people.authed()
    forged = tenant_api_token("not the service's key", str(alice.id))
    for auth in (None, (f"{DEFAULT_EMAIL}/token", forged), (f"{DEFAULT_EMAIL}/token", "guess")):
        answer = sandbox_client.get(f"{Z}/tickets/1.json", auth=auth)
        assert answer.status_code == 401
        assert answer.json() == {"error": "Couldn't authenticate you"}
    bad_bearer = sandbox_client.get(
        f"{Z}/tickets/1.json", headers={"Authorization": "Bearer x.y.z"}
    )
    assert bad_bearer.status_code == 401


def webhook(endpoint: str) -> dict[str, object]:
    return {
        "webhook": {
            "name": "Ticket Triage",
            "endpoint": endpoint,
            "http_method": "POST",
            "request_format": "json",
            "subscriptions": ["zen:event-type:ticket.created"],
        }
    }


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://example.com/hook",
        "{service}/auth/login",
        "{service}.evil.example/webhooks/zendesk/x",
        "{service}/webhooks/../auth/login",
    ],
)
def test_webhooks_to_other_targets_are_refused_with_the_reason(
    sandbox_client: TestClient, endpoint: str
) -> None:
    service = get_settings().public_base_url.rstrip("/")
    answer = sandbox_client.post(
        f"{Z}/webhooks", auth=DEMO, json=webhook(endpoint.format(service=service))
    )
    assert answer.status_code == 403
    (error,) = answer.json()["errors"]
    assert error["code"] == "EndpointNotAllowed"
    assert "only sends webhooks to this service" in error["detail"]
    assert f"{service}/webhooks/" in error["detail"]
    assert sandbox_client.get(f"{Z}/webhooks", auth=DEMO).json()["webhooks"] == []


def test_webhooks_to_the_services_own_webhook_url_are_accepted(
    sandbox_client: TestClient, people: UserFactory
) -> None:
    _, headers = people.authed()
    own_url = sandbox_client.get("/settings/", headers=headers).json()["integration"]["webhook_url"]
    answer = sandbox_client.post(f"{Z}/webhooks", headers=headers, json=webhook(own_url))
    assert answer.status_code == 201, answer.text
    assert answer.json()["webhook"]["endpoint"] == own_url


def test_the_least_recently_used_account_is_dropped_beyond_the_bound() -> None:
    secret = "a-test-secret"
    sandbox = create_builtin_sandbox(secret=secret, service_urls=["http://service.test"])
    sandbox._max_tenants = 2
    with serve_in_thread(sandbox) as url, httpx.Client(base_url=url, timeout=5) as http:

        def auth(tenant: str) -> tuple[str, str]:
            return f"{DEFAULT_EMAIL}/token", tenant_api_token(secret, tenant)

        ticket = {"ticket": {"subject": "Mine", "comment": {"body": "kept while used"}}}
        created = http.post("/api/v2/tickets.json", auth=auth("1"), json=ticket).json()
        ticket_id = created["ticket"]["id"]
        assert http.get(f"/api/v2/tickets/{ticket_id}.json", auth=auth("2")).status_code == 404
        assert http.get(f"/api/v2/tickets/{ticket_id}.json", auth=auth("1")).status_code == 200
        http.get("/api/v2/users/me.json", auth=auth("3"))  # evicts account 2, the oldest
        http.get("/api/v2/users/me.json", auth=auth("4"))  # evicts account 1
        assert http.get(f"/api/v2/tickets/{ticket_id}.json", auth=auth("1")).status_code == 404


def test_a_login_token_revoked_by_a_password_change_no_longer_reaches_the_sandbox(
    sandbox_client: TestClient, people: UserFactory
) -> None:
    _, headers = people.authed()
    assert sandbox_client.get(f"{Z}/users/me.json", headers=headers).status_code == 200
    changed = sandbox_client.post(
        "/auth/password",
        headers=headers,
        json={"current_password": DEFAULT_PASSWORD, "new_password": "another-long-passphrase-9"},
    )
    assert changed.status_code == 200, changed.text
    assert sandbox_client.get(f"{Z}/users/me.json", headers=headers).status_code == 401
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert sandbox_client.get(f"{Z}/users/me.json", headers=fresh).status_code == 200


def test_the_service_processes_sandbox_tickets_in_the_users_own_account(
    sandbox_client: TestClient, people: UserFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's Zendesk client reaches the sandbox over HTTP with the credentials it
    derives per user; the tags and note land in that user's account only."""
    settings = get_settings()
    sandbox = create_builtin_sandbox(secret=settings.secret_key, service_urls=["http://x.test"])
    with serve_in_thread(Starlette(routes=[Mount("/sandbox/zendesk", sandbox)])) as url:
        monkeypatch.setattr(settings, "public_base_url", url)
        alice, alice_headers = people.authed()
        bob, _ = people.authed()
        alices = sandbox.simulator(str(alice.id))
        ticket_id = min(i for i, t in alices.tickets.items() if t["status"] in {"new", "open"})
        seeded_comments = len(alices.ticket_comments(ticket_id))
        answer = sandbox_client.post(
            "/tickets/process", json={"ticket_id": ticket_id}, headers=alice_headers
        )
        assert answer.status_code == 200, answer.text
        assert any(tag.startswith("ai_") for tag in alices.ticket(ticket_id)["tags"])
        assert len(alices.ticket_comments(ticket_id)) == seeded_comments + 1  # the note
        bobs = sandbox.simulator(str(bob.id))
        assert not any(tag.startswith("ai_") for tag in bobs.ticket(ticket_id)["tags"])
        assert len(bobs.ticket_comments(ticket_id)) == seeded_comments


def test_the_service_derives_the_tokens_the_sandbox_verifies() -> None:
    """The worker computes sandbox tokens without importing the sandbox: same format."""
    secret = get_settings().secret_key
    for user_id in (1, 42, 9_000_000_000):
        token = integrations.sandbox_api_token(user_id)
        assert token == tenant_api_token(secret, str(user_id))
    assert integrations.sandbox_api_token(None) == DEFAULT_API_TOKEN
