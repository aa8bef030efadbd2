"""Administrators: only admins reach /admin (401 without a token, 403 for users); they list
every account, change roles, disable and enable accounts and delete them with their data;
the last active admin is never demoted, disabled or deleted."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from app.accounts import admin as administration
from app.accounts.users import create_user
from app.database import session_scope
from app.enums import UserRole
from app.errors import Conflict
from app.main import create_app
from app.models import Ticket, User
from tests.factories import DEFAULT_PASSWORD, UserFactory, create_analysed_ticket


def admin_routes() -> list[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(create_app().routes):
        if route.path and route.path.startswith("/admin"):
            found.update((method, route.path) for method in route.methods or () if method != "HEAD")
    return sorted(found)


ADMIN_ROUTES = admin_routes()
# Per route: the body sent (given the target account) and the admin's success status.
CALLS: dict[tuple[str, str], tuple[Any, int]] = {
    ("GET", "/admin/users"): (lambda target: None, 200),
    ("PATCH", "/admin/users/{user_id}"): (lambda target: {"is_active": True}, 200),
    ("DELETE", "/admin/users/{user_id}"): (lambda target: {"confirm": target.email}, 204),
}


def login(client: TestClient, email: str, password: str = DEFAULT_PASSWORD) -> Any:
    return client.post("/auth/login", data={"username": email, "password": password})


def test_every_admin_route_is_in_the_authorization_matrix() -> None:
    assert ADMIN_ROUTES and sorted(CALLS) == ADMIN_ROUTES


@pytest.mark.parametrize(
    ("method", "path"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p in ADMIN_ROUTES]
)
def test_only_admins_reach_admin_routes(
    method: str, path: str, client: TestClient, users: UserFactory, db: Session
) -> None:
    body_for, success = CALLS[(method, path)]
    target = users.create()
    _, user_headers = users.authed()
    _, admin_headers = users.admin()
    url = path.format(user_id=target.id)

    anonymous = client.request(method, url, json=body_for(target))
    assert anonymous.status_code == 401, anonymous.text
    refused = client.request(method, url, json=body_for(target), headers=user_headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    assert "not an admin" in refused.json()["error"]["message"]
    assert target.email not in refused.text
    assert db.get(User, target.id) is not None

    allowed = client.request(method, url, json=body_for(target), headers=admin_headers)
    assert allowed.status_code == success, allowed.text


def test_the_list_shows_every_account_with_role_state_and_ticket_count(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    admin, headers = users.admin()
    busy = users.create()
    for _ in range(3):
        create_analysed_ticket(db, busy)
    idle = users.create()
    idle.is_active = False
    db.flush()

    page = client.get("/admin/users", params={"page_size": 200}, headers=headers).json()
    assert page["total"] == db.scalar(select(func.count(User.id)))
    listed = {item["id"]: item for item in page["items"]}
    assert listed[admin.id]["role"] == "admin" and listed[admin.id]["is_active"] is True
    assert listed[busy.id] == {
        "id": busy.id,
        "email": busy.email,
        "full_name": None,
        "role": "user",
        "is_active": True,
        "created_at": listed[busy.id]["created_at"],
        "ticket_count": 3,
    }
    assert listed[busy.id]["created_at"].startswith(busy.created_at.date().isoformat())
    assert listed[idle.id]["is_active"] is False and listed[idle.id]["ticket_count"] == 0
    assert [item["id"] for item in page["items"]] == sorted(listed)

    first = client.get("/admin/users", params={"page_size": 1}, headers=headers).json()
    second = client.get("/admin/users", params={"page": 2, "page_size": 1}, headers=headers)
    assert len(first["items"]) == 1 and first["total"] == page["total"]
    assert second.json()["items"][0]["id"] > first["items"][0]["id"]


def test_a_disabled_accounts_tokens_stop_working_and_its_logins_are_refused(
    client: TestClient, users: UserFactory
) -> None:
    _, admin_headers = users.admin()
    user, user_headers = users.authed()
    assert client.get("/auth/me", headers=user_headers).status_code == 200

    disabled = client.patch(
        f"/admin/users/{user.id}", json={"is_active": False}, headers=admin_headers
    )
    assert disabled.status_code == 200 and disabled.json()["is_active"] is False
    rejected = client.get("/auth/me", headers=user_headers)
    assert rejected.status_code == 401
    assert rejected.json()["error"]["code"] == "account_disabled"
    refused = login(client, user.email)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"].startswith("This account is disabled")
    assert login(client, user.email, "a-wrong-password").status_code == 401  # no hint

    enabled = client.patch(
        f"/admin/users/{user.id}", json={"is_active": True}, headers=admin_headers
    )
    assert enabled.json()["is_active"] is True
    assert client.get("/auth/me", headers=user_headers).status_code == 401  # revoked for good
    fresh = login(client, user.email)
    assert fresh.status_code == 200
    token = fresh.json()["access_token"]
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_promoted_user_is_an_admin_and_sees_its_role(
    client: TestClient, users: UserFactory
) -> None:
    _, admin_headers = users.admin()
    user, user_headers = users.authed()
    assert client.get("/auth/me", headers=user_headers).json()["role"] == "user"

    promoted = client.patch(
        f"/admin/users/{user.id}", json={"role": "admin"}, headers=admin_headers
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert client.get("/auth/me", headers=user_headers).json()["role"] == "admin"
    assert client.get("/admin/users", headers=user_headers).status_code == 200


def test_the_last_active_admin_is_never_demoted_disabled_or_deleted(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    admin, headers = users.admin()
    for others in db.scalars(select(User).where(User.id != admin.id, User.role == "admin")):
        others.role = UserRole.user  # rows left by other tests' commits
    db.flush()
    url = f"/admin/users/{admin.id}"
    attempts = [
        client.patch(url, json={"role": "user"}, headers=headers),
        client.patch(url, json={"is_active": False}, headers=headers),
        client.request("DELETE", url, json={"confirm": admin.email}, headers=headers),
        client.request(
            "DELETE", "/auth/me", json={"confirm": admin.email, "password": DEFAULT_PASSWORD},
            headers=headers,
        ),
    ]  # fmt: skip
    for response in attempts:
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "last_admin"
        assert "last active admin" in response.json()["error"]["message"]
    db.expire(admin)
    assert admin.role == UserRole.admin and admin.is_active

    # A disabled admin does not count: it cannot keep the last active one company.
    spare, _ = users.admin()
    client.patch(f"/admin/users/{spare.id}", json={"is_active": False}, headers=headers)
    assert client.patch(url, json={"role": "user"}, headers=headers).status_code == 409

    # With a second active admin, either may go.
    client.patch(f"/admin/users/{spare.id}", json={"is_active": True}, headers=headers)
    demoted = client.patch(url, json={"role": "user"}, headers=headers)
    assert demoted.status_code == 200 and demoted.json()["role"] == "user"
    assert client.get("/admin/users", headers=headers).status_code == 403


def test_deleting_an_account_deletes_its_data_after_confirmation(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    _, headers = users.admin()
    user = users.create()
    create_analysed_ticket(db, user)
    url = f"/admin/users/{user.id}"

    wrong = client.request("DELETE", url, json={"confirm": "someone@example.com"}, headers=headers)
    assert wrong.status_code == 422 and "confirm" in wrong.json()["error"]["message"]
    deleted = client.request("DELETE", url, json={"confirm": user.email.upper()}, headers=headers)
    assert deleted.status_code == 204
    assert db.scalar(select(func.count(Ticket.id)).where(Ticket.user_id == user.id)) == 0
    assert db.scalar(select(func.count(User.id)).where(User.id == user.id)) == 0
    assert login(client, user.email).status_code == 401
    gone = client.request("DELETE", url, json={"confirm": user.email}, headers=headers)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_an_update_names_only_known_fields(client: TestClient, users: UserFactory) -> None:
    _, headers = users.admin()
    user = users.create()
    for body in ({"role": "root"}, {"email": "new@example.com"}, {"is_active": "maybe"}):
        response = client.patch(f"/admin/users/{user.id}", json=body, headers=headers)
        assert response.status_code == 422, body
    assert client.patch("/admin/users/999999999", json={}, headers=headers).status_code == 404


@pytest.mark.postgres_only
def test_two_admins_demoting_each_other_at_once_leave_one_admin(engine: Engine) -> None:
    """The second demotion waits for the first one's lock, then sees it is the last."""
    stamp = time.monotonic_ns()
    with session_scope() as db:
        first, second = (
            create_user(
                db=db, email=f"race-{n}-{stamp}@example.com", password=DEFAULT_PASSWORD,
                role=UserRole.admin,
            )
            for n in (1, 2)
        )  # fmt: skip
        first_id, second_id = first.id, second.id
    outcome: dict[str, object] = {}

    def demote_first() -> None:
        try:
            with session_scope() as db:
                account = administration.get_account(db=db, user_id=first_id)
                administration.set_role(db=db, user=account, role=UserRole.user)
            outcome["first"] = "demoted"
        except Conflict as exc:
            outcome["first"] = exc.code

    try:
        with session_scope() as db:
            account = administration.get_account(db=db, user_id=second_id)
            administration.set_role(db=db, user=account, role=UserRole.user)
            racer = threading.Thread(target=demote_first)
            racer.start()
            racer.join(timeout=1.0)
            assert racer.is_alive(), "the second demotion did not wait for the first's lock"
        racer.join(timeout=10)
        assert outcome == {"first": "last_admin"}
        with engine.connect() as connection:
            roles = dict(
                connection.exec_driver_sql(
                    "SELECT id, role FROM users WHERE id IN (%s, %s)", (first_id, second_id)
                ).all()
            )
        assert roles == {first_id: "admin", second_id: "user"}
    finally:
        with session_scope() as db:
            db.execute(delete(User).where(User.id.in_([first_id, second_id])))
