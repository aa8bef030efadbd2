from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.core.security import create_access_token
from app.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory


def register(client: TestClient, email: str, password: str = DEFAULT_PASSWORD):
    return client.post("/auth/register", json={"email": email, "password": password})


def test_register_creates_user_and_hides_password(client: TestClient, db: Session) -> None:
    response = register(client, "alice@example.com")
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "alice@example.com"
    assert "password" not in str(body)
    stored = db.scalar(select(User).where(User.email == "alice@example.com"))
    assert stored is not None and stored.hashed_password != DEFAULT_PASSWORD


def test_register_lowercases_email_and_duplicate_any_case_is_409(client: TestClient) -> None:
    assert register(client, "Bob@Example.COM").json()["email"] == "bob@example.com"
    response = register(client, "BOB@example.com")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": DEFAULT_PASSWORD}, "email"),
        ({"email": "c@example.com", "password": "short"}, "password"),
        ({"email": "c@example.com"}, "password"),
        ({"email": "c@example.com", "password": "abc\x00defghij"}, "password"),
    ],
)
def test_register_rejects_bad_input_with_422(client: TestClient, payload: dict, field: str) -> None:
    response = client.post("/auth/register", json=payload)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["message"]


def test_overlong_password_says_how_long_it_may_be(client: TestClient) -> None:
    response = client.post(
        "/auth/register", json={"email": "d@example.com", "password": "x" * 1025}
    )
    assert response.status_code == 422
    assert "at most 1024 characters" in response.json()["error"]["message"]
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    register_fields = next(s for name, s in schema.items() if name.startswith("UserCreate"))
    assert register_fields["properties"]["password"]["maxLength"] == 1024


def test_password_longer_than_72_bytes_works_and_is_not_truncated(client: TestClient) -> None:
    long_password = "p" * 100 + "é" * 20
    assert register(client, "long@example.com", long_password).status_code == 201
    ok = client.post(
        "/auth/login", data={"username": "long@example.com", "password": long_password}
    )
    assert ok.status_code == 200
    truncated = long_password[:72]
    bad = client.post("/auth/login", data={"username": "long@example.com", "password": truncated})
    assert bad.status_code == 401


def test_login_returns_token_usable_on_me(client: TestClient, users: UserFactory) -> None:
    user = users.create("carol@example.com")
    response = client.post(
        "/auth/login", data={"username": "CAROL@example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer" and token["expires_in"] > 0
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == user.id


def test_login_unknown_email_and_wrong_password_look_the_same(
    client: TestClient, users: UserFactory
) -> None:
    users.create("dave@example.com")
    wrong_password = client.post(
        "/auth/login", data={"username": "dave@example.com", "password": "wrong-password"}
    )
    unknown = client.post(
        "/auth/login", data={"username": "nobody@example.com", "password": "wrong-password"}
    )
    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.json()["error"]["message"] == unknown.json()["error"]["message"]
    assert wrong_password.headers["www-authenticate"] == "Bearer"


def test_login_without_form_fields_is_422(client: TestClient) -> None:
    assert client.post("/auth/login", data={}).status_code == 422


def _token(
    sub: str,
    *,
    token_key: str = "0" * 32,
    key: str | None = None,
    delta: timedelta = timedelta(minutes=5),
) -> str:
    return create_access_token(
        sub, token_key=token_key, secret_key=key or get_settings().secret_key, expires_delta=delta
    )


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer ",
        "Bearer not.a.jwt",
        "Basic dXNlcjpwYXNz",
        "Bearer " + _token("1", key="forged-key-forged-key-forged-key-123"),
        "Bearer " + _token("1", delta=timedelta(minutes=-1)),
        "Bearer " + _token("not-a-number"),
        "Bearer " + _token(str(2**63)),
        # alg "none", unsigned
        "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.",
    ],
    ids=[
        "missing",
        "empty",
        "malformed",
        "basic",
        "forged",
        "expired",
        "bad-sub",
        "huge-sub",
        "alg-none",
    ],
)
def test_me_rejects_bad_tokens_with_401_and_bearer_challenge(
    client: TestClient, users: UserFactory, authorization: str | None
) -> None:
    users.create()
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "sub",
    # "{id}" stands for the user's id: a sub that int() would read as that user's id still
    # has to be the plain decimal we issue.
    [str(2**63), str(2**64), "9" * 40, "0", "-1", "+{id}", " {id}", "0{id}", "{id}.0"],
)
@pytest.mark.parametrize("path", ["/auth/me", "/settings/", "/tickets/", "/analytics/dashboard"])
def test_signed_token_whose_sub_is_no_user_id_is_401_not_500(
    client: TestClient, users: UserFactory, sub: str, path: str
) -> None:
    user = users.create()
    token = _token(sub.format(id=user.id), token_key=user.token_key)
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("unauthorized", "Invalid or expired token")


def test_token_with_the_users_id_as_sub_is_accepted(client: TestClient, users: UserFactory) -> None:
    user = users.create()
    response = client.get(
        "/auth/me",
        headers={"Authorization": f"Bearer {_token(str(user.id), token_key=user.token_key)}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["email"] == user.email


def test_token_of_deleted_user_is_rejected(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    db.delete(user)
    db.flush()
    assert client.get("/auth/me", headers=headers).status_code == 401
