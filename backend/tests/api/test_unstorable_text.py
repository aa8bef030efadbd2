"""NUL characters and lone surrogates anywhere in a request are a 422 naming where, on
PostgreSQL as on SQLite (PostgreSQL cannot store either, and used to answer 500)."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts import integrations
from tests.api.test_webhooks import SECRET, Queue, created_event, deliver
from tests.factories import DEFAULT_PASSWORD, UserFactory, configure_zendesk


def assert_refused(response: httpx.Response, where: str, what: str = "NUL characters") -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == f"{where}: {what} are not allowed"
    assert error["request_id"] == response.headers["x-request-id"]


def test_nul_in_the_login_username_is_422(client: TestClient, users: UserFactory) -> None:
    user = users.create()
    form = {"username": user.email + "\x00", "password": DEFAULT_PASSWORD}
    assert_refused(client.post("/auth/login", data=form), "body")
    multipart = client.post("/auth/login", files={k: (None, v) for k, v in form.items()})
    assert_refused(multipart, "body")


def test_nul_in_path_ids_is_422(client: TestClient, users: UserFactory) -> None:
    _, headers = users.authed()
    assert_refused(client.get("/tickets/jobs/abc%00def", headers=headers), "path")
    assert_refused(client.post("/webhooks/zendesk/abc%00def", json={"ticket_id": 1}), "path")


def test_nul_in_a_query_parameter_is_422(client: TestClient, users: UserFactory) -> None:
    _, headers = users.authed()
    assert_refused(client.get("/tickets/?q=a%00b", headers=headers), "query")
    assert_refused(client.get("/analytics/dashboard?tz=UTC%00", headers=headers), "query")


def test_a_signed_webhook_whose_event_id_holds_nul_is_422(
    app: FastAPI, client: TestClient, users: UserFactory, db: Session
) -> None:
    recorder = Queue()
    app.state.job_sender = recorder
    user = users.create()
    configure_zendesk(db, user, "https://acme.zendesk.com", zendesk_webhook_secret=SECRET)
    row = integrations.get_row(db=db, user_id=user.id)
    assert row is not None
    response = deliver(client, f"/webhooks/zendesk/{row.public_id}", created_event(7, "ev\x00t"))
    assert_refused(response, "id")
    assert recorder.job_ids == []


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        (
            {"email": "a@example.com", "password": DEFAULT_PASSWORD, "full_name": "\ud800"},
            "full_name",
            "unpaired surrogate characters",
        ),
        (
            {"email": "a@example.com", "password": DEFAULT_PASSWORD, "full_name": "x\udfff"},
            "full_name",
            "unpaired surrogate characters",
        ),
        (
            {"email": "a@example.com", "password": DEFAULT_PASSWORD, "full_name": "a\x00"},
            "full_name",
            "NUL characters",
        ),
        (
            {"email": "a@example.com", "password": DEFAULT_PASSWORD, "nested": [{"k\x00": 1}]},
            "nested.0.k\\u0000",
            "NUL characters",
        ),
    ],
)
def test_nul_or_lone_surrogates_in_json_are_422(
    client: TestClient, body: dict, where: str, what: str
) -> None:
    raw = json.dumps(body).encode()  # ensure_ascii: written as \\u escapes
    response = client.post(
        "/auth/register", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_refused(response, where, what)


def test_a_raw_nul_byte_in_any_body_is_422(client: TestClient, users: UserFactory) -> None:
    _, headers = users.authed()
    response = client.put(
        "/settings/",
        content=b'{"full_name": "a\x00"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert_refused(response, "body")


def test_paired_surrogates_and_escaped_backslashes_are_ordinary_text(
    client: TestClient,
) -> None:
    for name in ("smile \U0001f600", "a literal \\u0000 in text"):
        raw = json.dumps(
            {"email": f"u{len(name)}@example.com", "password": DEFAULT_PASSWORD, "full_name": name}
        ).encode()
        response = client.post(
            "/auth/register", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["full_name"] == name
