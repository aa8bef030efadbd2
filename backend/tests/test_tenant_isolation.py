"""Tenant isolation, generated from the app's route table: every route with a path parameter
is called by a second user with the ids of the first user's resources and must answer 404
without any of the owner's data (and must not change it).

A new route with a path parameter fails `test_route_is_covered` until it gets an entry in
OWNED_RESOURCES (how to create the resource it addresses), in ADMIN_ROUTES (an admin-only
route addressing any account: every other user gets 403 without the account's data) or,
when it is legitimately not user-scoped, in PUBLIC_ROUTES with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.batch import jobs as batch_jobs
from app.batch.tables import Backfill
from app.enums import BackfillState, UserRole
from app.main import create_app
from app.models import Ticket, TicketAnalysis, User
from tests.factories import UserFactory, create_analysed_ticket

SECRET_SUBJECT = "Owner-only subject 7f3a"
SECRET_SUMMARY = "Owner-only summary 9c1d"


@dataclass(frozen=True)
class Owned:
    """What a route's path parameters point at, made for the owner."""

    path_params: dict[str, Any]
    private_text: list[str] = field(default_factory=list)  # must never reach the intruder
    unchanged: Callable[[], bool] = lambda: True  # the owner's data after the intruder's call


def analysed_ticket(db: Session, owner: User) -> Owned:
    analysis = create_analysed_ticket(
        db, owner, subject=SECRET_SUBJECT, summary=SECRET_SUMMARY, category="bug"
    )
    ticket_id = db.scalar(select(Ticket.zendesk_ticket_id).where(Ticket.id == analysis.ticket_id))

    def unchanged() -> bool:
        db.expire(analysis)
        stored = db.get(TicketAnalysis, analysis.id)
        return stored is not None and stored.feedback_category is None

    return Owned({"ticket_id": ticket_id}, [SECRET_SUBJECT, SECRET_SUMMARY], unchanged)


def batch_job(db: Session, owner: User) -> Owned:
    job = batch_jobs.create_job(
        db=db, user_id=owner.id, zendesk_ticket_ids=[918_273_645, 918_273_646]
    )
    return Owned({"job_id": job.id}, ["918273645", "918273646"])


def backfill(db: Session, owner: User) -> Owned:
    query = "type:ticket subject:private-backfill-7731"
    row = Backfill(
        id=str(uuid.uuid4()),
        user_id=owner.id,
        state=BackfillState.queued,
        query=query,
        max_tickets=100,
    )
    db.add(row)
    db.flush()
    return Owned({"backfill_id": row.id}, ["private-backfill-7731"])


@dataclass(frozen=True)
class Route:
    create: Callable[[Session, User], Owned]
    body: dict[str, Any] | None = None
    owner_status: int = 200


OWNED_RESOURCES: dict[tuple[str, str], Route] = {
    ("GET", "/tickets/{ticket_id}"): Route(analysed_ticket),
    ("POST", "/tickets/{ticket_id}/feedback"): Route(analysed_ticket, body={"category": "billing"}),
    ("GET", "/tickets/jobs/{job_id}"): Route(batch_job),
    ("GET", "/tickets/backfills/{backfill_id}"): Route(backfill),
}


def account(db: Session, owner: User) -> Owned:
    def unchanged() -> bool:
        db.expire(owner)
        stored = db.get(User, owner.id)
        return stored is not None and stored.is_active and stored.role == UserRole.user

    return Owned({"user_id": owner.id}, [], unchanged)


@dataclass(frozen=True)
class AdminRoute:
    create: Callable[[Session, User], Owned]
    body: Callable[[User], dict[str, Any] | None]
    admin_status: int = 200


ADMIN_ROUTES: dict[tuple[str, str], AdminRoute] = {
    ("PATCH", "/admin/users/{user_id}"): AdminRoute(account, lambda owner: {"is_active": False}),
    ("DELETE", "/admin/users/{user_id}"): AdminRoute(
        account, lambda owner: {"confirm": owner.email}, admin_status=204
    ),
}

PUBLIC_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/app/{path:path}"): (
        "the dashboard's static build (index.html and its assets): no user data; the pages "
        "read everything through the API with the user's token"
    ),
    ("POST", "/webhooks/zendesk/{integration_id}"): (
        "Zendesk calls it without a user token; it is authenticated by the webhook signature "
        "and the id is 128 random bits (tested with the webhooks)"
    ),
}


def routes_with_path_parameters() -> list[tuple[str, str]]:
    app = create_app()
    found = set()
    for route in iter_route_contexts(app.routes):
        if route.path and "{" in route.path:
            found.update((method, route.path) for method in route.methods or () if method != "HEAD")
    return sorted(found)


ROUTES = routes_with_path_parameters()


def test_the_route_table_has_routes_with_path_parameters() -> None:
    assert ("GET", "/tickets/{ticket_id}") in ROUTES


def test_the_mapping_lists_no_route_that_is_gone() -> None:
    stale = (set(OWNED_RESOURCES) | set(PUBLIC_ROUTES) | set(ADMIN_ROUTES)) - set(ROUTES)
    assert not stale, f"remove entries for routes that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_is_covered(
    method: str, path: str, client: TestClient, users: UserFactory, db: Session
) -> None:
    key = (method, path)
    if key in PUBLIC_ROUTES:
        pytest.skip(f"public: {PUBLIC_ROUTES[key]}")
    if key in ADMIN_ROUTES:
        pytest.skip("admin-only: test_admin_route_refuses_every_other_user covers it")
    assert key in OWNED_RESOURCES, (
        f"{method} {path} takes a path parameter but has no entry in OWNED_RESOURCES: add how "
        "to create the resource it addresses so tenant isolation is tested"
    )
    route = OWNED_RESOURCES[key]
    owner, owner_headers = users.authed()
    _, intruder_headers = users.authed()
    owned = route.create(db, owner)
    url = path.format(**owned.path_params)

    stolen = client.request(method, url, headers=intruder_headers, json=route.body)
    assert stolen.status_code == 404, stolen.text
    assert stolen.json()["error"]["code"] == "not_found"
    for text in [*owned.private_text, owner.email]:
        assert text not in stolen.text
    assert owned.unchanged(), "the intruder's call changed the owner's data"

    own = client.request(method, url, headers=owner_headers, json=route.body)
    assert own.status_code == route.owner_status, own.text  # the id itself was valid


ADMIN_KEYS = sorted(ADMIN_ROUTES)


@pytest.mark.parametrize(("method", "path"), ADMIN_KEYS, ids=[f"{m} {p}" for m, p in ADMIN_KEYS])
def test_admin_route_refuses_every_other_user(
    method: str, path: str, client: TestClient, users: UserFactory, db: Session
) -> None:
    """An admin route addresses any account; every user who is not an admin, the account's
    owner included, gets 403 without its data and without changing it."""
    route = ADMIN_ROUTES[(method, path)]
    owner, owner_headers = users.authed()
    _, intruder_headers = users.authed()
    _, admin_headers = users.admin()
    owned = route.create(db, owner)
    url = path.format(**owned.path_params)

    for headers in (intruder_headers, owner_headers):
        refused = client.request(method, url, headers=headers, json=route.body(owner))
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
        assert owner.email not in refused.text
        assert owned.unchanged(), "a non-admin's call changed the account"

    done = client.request(method, url, headers=admin_headers, json=route.body(owner))
    assert done.status_code == route.admin_status, done.text
