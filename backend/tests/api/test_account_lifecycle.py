"""Account life cycle: tokens carry the user's token key, a password change revokes older
tokens, and deleting an account deletes everything that is the user's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.batch import jobs as batch_jobs
from app.config import get_settings
from app.core.security import create_access_token
from app.models import Base, Ticket, TrainingExample, User, UserModel
from tests.factories import DEFAULT_PASSWORD, UserFactory, configure_zendesk

NEW_PASSWORD = "a-brand-new-passphrase"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, email: str, password: str) -> int:
    return client.post("/auth/login", data={"username": email, "password": password}).status_code


def test_password_change_revokes_every_older_token_and_returns_a_working_one(
    client: TestClient, users: UserFactory
) -> None:
    user = users.create()
    first, second = users.token_for(user), users.token_for(user)
    response = client.post(
        "/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(first),
    )
    assert response.status_code == 200, response.text
    fresh = response.json()["access_token"]
    for old in (first, second):
        assert client.get("/auth/me", headers=bearer(old)).status_code == 401
    assert client.get("/auth/me", headers=bearer(fresh)).json()["id"] == user.id
    assert login(client, user.email, DEFAULT_PASSWORD) == 401
    assert login(client, user.email, NEW_PASSWORD) == 200


def test_password_change_needs_the_current_password(client: TestClient, users: UserFactory) -> None:
    user, headers = users.authed()
    response = client.post(
        "/auth/password",
        json={"current_password": "not-the-password", "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert client.get("/auth/me", headers=headers).status_code == 200
    assert login(client, user.email, DEFAULT_PASSWORD) == 200


def test_new_password_follows_the_registration_rules(
    client: TestClient, users: UserFactory
) -> None:
    _, headers = users.authed()
    response = client.post(
        "/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "short"},
        headers=headers,
    )
    assert response.status_code == 422
    assert "new_password" in response.json()["error"]["message"]


def test_token_without_the_users_current_key_is_refused(
    client: TestClient, users: UserFactory
) -> None:
    user = users.create()
    settings = get_settings()
    forged_key = create_access_token(
        str(user.id),
        token_key="0" * 32,
        secret_key=settings.secret_key,
        expires_delta=timedelta(minutes=5),
    )
    assert client.get("/auth/me", headers=bearer(forged_key)).status_code == 401
    genuine = create_access_token(
        str(user.id),
        token_key=user.token_key,
        secret_key=settings.secret_key,
        expires_delta=timedelta(minutes=5),
    )
    assert client.get("/auth/me", headers=bearer(genuine)).status_code == 200


def test_a_deleted_users_id_is_never_given_to_a_new_account(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    users.create()
    doomed = users.create()
    token = users.token_for(doomed)
    doomed_id = doomed.id
    response = client.request(
        "DELETE",
        "/auth/me",
        json={"confirm": doomed.email, "password": DEFAULT_PASSWORD},
        headers=bearer(token),
    )
    assert response.status_code == 204, response.text
    newcomer = users.create()
    assert newcomer.id > doomed_id
    assert client.get("/auth/me", headers=bearer(token)).status_code == 401


def _rows_of(db: Session, user_id: int) -> dict[str, int]:
    """Row counts per table with a user_id column."""
    return {
        table.name: db.scalar(
            select(func.count()).select_from(table).where(table.c.user_id == user_id)
        )
        or 0
        for table in Base.metadata.sorted_tables
        if "user_id" in table.c
    }


def test_deleting_my_account_deletes_all_its_data_and_nothing_else(
    client: TestClient, users: UserFactory, db: Session, zendesk_url: str
) -> None:
    other, other_headers = users.authed()
    configure_zendesk(db, other, zendesk_url)
    user, headers = users.authed()
    configure_zendesk(db, user, zendesk_url)
    for headers_ in (headers, other_headers):
        processed = client.post("/tickets/process", json={"ticket_id": 1}, headers=headers_)
        assert processed.status_code == 200, processed.text
    batch_jobs.create_job(db=db, user_id=user.id, zendesk_ticket_ids=[2, 3])
    ticket = db.scalars(select(Ticket).where(Ticket.user_id == user.id)).first()
    assert ticket is not None
    db.add(TrainingExample(user_id=user.id, ticket_id=ticket.id, origin="feedback"))
    db.add(UserModel(user_id=user.id, version=1, model_version="v1", artifact=b"model"))
    db.flush()
    before = _rows_of(db, user.id)
    for table in (
        "integration_settings",
        "tickets",
        "ticket_analyses",
        "processing_logs",
        "batch_jobs",
        "training_examples",
        "user_models",
    ):
        assert before[table] > 0, table
    others_before = _rows_of(db, other.id)

    response = client.request(
        "DELETE",
        "/auth/me",
        json={"confirm": user.email.upper(), "password": DEFAULT_PASSWORD},
        headers=headers,
    )

    assert response.status_code == 204, response.text
    db.expire_all()
    assert db.get(User, user.id) is None
    assert _rows_of(db, user.id) == dict.fromkeys(before, 0)
    assert _rows_of(db, other.id) == others_before
    assert client.get("/auth/me", headers=headers).status_code == 401
    assert login(client, user.email, DEFAULT_PASSWORD) == 401
    assert client.get("/auth/me", headers=other_headers).status_code == 200


def test_account_deletion_needs_the_email_as_confirmation_and_the_password(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    cases = [
        ({"confirm": "someone-else@example.com", "password": DEFAULT_PASSWORD}, 422),
        ({"confirm": user.email, "password": "not-the-password"}, 403),
        ({"password": DEFAULT_PASSWORD}, 422),
        ({"confirm": user.email}, 422),
    ]
    for body, expected in cases:
        response = client.request("DELETE", "/auth/me", json=body, headers=headers)
        assert response.status_code == expected, (body, response.text)
    assert db.get(User, user.id) is not None
    assert client.get("/auth/me", headers=headers).status_code == 200


def test_token_issued_without_a_token_key_is_refused(
    client: TestClient, users: UserFactory
) -> None:
    """Tokens from before token keys existed name a user but no key: they no longer work."""
    user = users.create()
    now = datetime.now(UTC)
    legacy = jwt.encode(
        {"sub": str(user.id), "iat": now, "exp": now + timedelta(minutes=5), "typ": "access"},
        get_settings().secret_key,
        algorithm="HS256",
    )
    response = client.get("/auth/me", headers=bearer(legacy))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid or expired token"
