"""GET /tickets/jobs: the user's batch jobs, newest first, a page at a time."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.batch.jobs import create_job
from app.models import utcnow
from tests.factories import UserFactory


def _jobs(db: Session, user_id: int, count: int) -> list[str]:
    """`count` jobs, one minute apart, plus two created in the same instant (ties break by id)."""
    now = utcnow()
    ids = []
    for minutes in range(count):
        job = create_job(db=db, user_id=user_id, zendesk_ticket_ids=[minutes + 1])
        job.created_at = now - timedelta(minutes=minutes)
        ids.append(job.id)
    for _ in range(2):
        job = create_job(db=db, user_id=user_id, zendesk_ticket_ids=[99])
        job.created_at = now - timedelta(minutes=count)
        ids.append(job.id)
    db.flush()
    tied = sorted(ids[-2:], reverse=True)
    return ids[:-2] + tied


def test_pages_walk_every_job_once_newest_first(
    client: TestClient, db: Session, users: UserFactory
) -> None:
    user, headers = users.authed()
    expected = _jobs(db, user.id, 5)
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 3}
    while True:
        page = client.get("/tickets/jobs", params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [job["id"] for job in body["items"]]
        if body["next_before"] is None:
            break
        params["before"] = body["next_before"]
    assert seen == expected


def test_a_short_page_is_the_last(client: TestClient, db: Session, users: UserFactory) -> None:
    user, headers = users.authed()
    _jobs(db, user.id, 1)
    body = client.get("/tickets/jobs", params={"limit": 20}, headers=headers).json()
    assert len(body["items"]) == 3
    assert body["next_before"] is None


def test_another_users_job_is_not_a_cursor(
    client: TestClient, db: Session, users: UserFactory
) -> None:
    owner, _ = users.authed()
    [job_id, *_] = _jobs(db, owner.id, 1)
    _, headers = users.authed()
    response = client.get("/tickets/jobs", params={"before": job_id}, headers=headers)
    assert response.status_code == 404
    assert "not found" in response.json()["error"]["message"]
