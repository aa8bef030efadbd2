"""`POST /tickets/backfill` end to end: the API, a real Celery worker on Redis that searches
the Zendesk simulator, then the batch jobs it queued."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app import unit_of_work
from app.accounts import integrations
from app.batch import backfills
from app.database import session_scope
from app.models import User
from sandbox.zendesk import ZendeskSimulator
from tests.worker.conftest import WorkerFactory, count, login, wait_for

pytestmark = pytest.mark.postgres_only

UNSOLVED = {"new", "open", "pending", "hold"}


def backfill(client: TestClient, headers: dict[str, str], backfill_id: str) -> dict:
    response = client.get(f"/tickets/backfills/{backfill_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_search_backfill_becomes_batch_jobs_of_100_and_reaches_done(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
    engine: Engine,
) -> None:
    unsolved = [
        t for t in sorted(zendesk_sim.tickets) if zendesk_sim.ticket(t)["status"] in UNSOLVED
    ]
    assert len(unsolved) > 200  # three children
    headers = login(live_client, committed_user)
    start_worker()

    response = live_client.post(
        "/tickets/backfill", json={"query": "status<solved"}, headers=headers
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["state"] == "queued" and created["job_ids"] == []
    assert response.headers["location"] == f"/tickets/backfills/{created['id']}"

    body = wait_for(
        lambda: (
            (b := backfill(live_client, headers, created["id"]))["state"]
            in {"succeeded", "partially_failed", "failed"}
            and b
        ),
        timeout_s=240,
        every_s=0.5,
    )
    children = -(-len(unsolved) // 100)
    assert body["state"] == "succeeded", body
    assert body["found"] == len(unsolved)
    assert len(body["job_ids"]) == children
    assert body["progress"] == {"done": len(unsolved), "failed": 0, "total": len(unsolved)}
    user = committed_user.id
    sql = "SELECT count(*) FROM batch_jobs WHERE user_id = :u AND parent_id = :p"
    assert count(engine, sql, u=user, p=created["id"]) == children
    assert (
        count(engine, "SELECT max(total) FROM batch_jobs WHERE parent_id = :p", p=created["id"])
        == 100
    )
    analysed = count(engine, "SELECT count(*) FROM ticket_analyses WHERE user_id = :u", u=user)
    assert analysed == len(unsolved)
    for job_id in body["job_ids"]:  # each child is an ordinary job of this user
        child = live_client.get(f"/tickets/jobs/{job_id}", headers=headers).json()
        assert child["state"] == "succeeded"


def test_max_tickets_caps_a_date_range_backfill(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
) -> None:
    headers = login(live_client, committed_user)
    start_worker()
    response = live_client.post(
        "/tickets/backfill", json={"end": "2026-12-01", "max_tickets": 150}, headers=headers
    )
    assert response.status_code == 202, response.text
    assert response.json()["query"] == "created<2026-12-01"
    body = wait_for(
        lambda: (
            (b := backfill(live_client, headers, response.json()["id"]))["found"] is not None and b
        ),
        timeout_s=60,
        every_s=0.2,
    )
    assert body["found"] == 150 and len(body["job_ids"]) == 2
    assert body["progress"]["total"] == 150


def test_a_search_zendesk_refuses_fails_the_backfill_with_its_reason(
    live_client: TestClient, committed_user: User, start_worker: WorkerFactory
) -> None:
    with session_scope() as db:
        integrations.update(
            db=db, user_id=committed_user.id, changes={"zendesk_api_token": "not-the-token"}
        )
    headers = login(live_client, committed_user)
    start_worker()
    response = live_client.post("/tickets/backfill", json={"query": "status:open"}, headers=headers)
    assert response.status_code == 202, response.text
    body = wait_for(
        lambda: (
            (b := backfill(live_client, headers, response.json()["id"]))["state"] == "failed" and b
        ),
        timeout_s=60,
        every_s=0.2,
    )
    assert body["error"].startswith("the Zendesk search failed")
    assert body["job_ids"] == [] and body["found"] is None


def test_a_backfill_needs_zendesk_configured(live_client: TestClient, committed_user: User) -> None:
    with session_scope() as db:
        integrations.update(db=db, user_id=committed_user.id, changes={"zendesk_url": None})
    headers = login(live_client, committed_user)
    response = live_client.post("/tickets/backfill", json={"query": "status:open"}, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "give either query or a date range"),
        ({"max_tickets": 10}, "give either query or a date range"),
        ({"query": "status:open", "start": "2026-10-01"}, "not both"),
        ({"start": "2026-10-08", "end": "2026-10-01"}, "end must be after start"),
        ({"start": "2026-10-01", "end": "2026-10-01"}, "end must be after start"),
        ({"query": "   "}, "query"),
        ({"query": "status:open", "max_tickets": 10_001}, "max_tickets"),
        ({"query": "status:open", "max_tickets": 0}, "max_tickets"),
        ({"start": "yesterday"}, "start"),
    ],
)
def test_bad_backfill_input_is_a_422_with_a_message(
    live_client: TestClient, committed_user: User, payload: dict, message: str
) -> None:
    headers = login(live_client, committed_user)
    response = live_client.post("/tickets/backfill", json=payload, headers=headers)
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]


def test_another_users_backfill_is_404(
    live_client: TestClient, committed_user: User, engine: Engine
) -> None:
    with session_scope() as db:
        backfill_id = backfills.submit(db=db, user_id=committed_user.id, query="status:open").id
        unit_of_work.discard(db)  # recorded only: no worker runs it here
    live_client.post(
        "/auth/register",
        json={"email": "backfill-intruder@example.com", "password": "password-123"},
    )
    token = live_client.post(
        "/auth/login",
        data={"username": "backfill-intruder@example.com", "password": "password-123"},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    try:
        intruded = live_client.get(f"/tickets/backfills/{backfill_id}", headers=headers)
        assert intruded.status_code == 404
        assert intruded.json()["error"]["code"] == "not_found"
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM users WHERE email = 'backfill-intruder@example.com'")
            )
    owner = login(live_client, committed_user)
    assert backfill(live_client, owner, backfill_id)["state"] == "queued"
    missing = live_client.get("/tickets/backfills/nope", headers=owner)
    assert missing.status_code == 404
