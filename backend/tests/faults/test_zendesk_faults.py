"""Zendesk misbehaving (429 storms, 5xx bursts, timeouts) while tickets are processed, one by
one over the API and in batch jobs on a real Celery worker: retries stay within bounds,
work finishes or reports per-ticket errors, and nothing is stored or posted twice."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.batch import jobs as batch_jobs
from app.config import get_settings
from app.database import session_scope
from app.errors import DEFAULT_UPSTREAM_RETRY_AFTER_S
from app.models import Ticket, TicketAnalysis, User
from sandbox.zendesk import ZendeskSimulator
from tests.factories import UserFactory, configure_zendesk, open_ticket_ids
from tests.worker.conftest import WorkerFactory, count, login, sender_to, wait_for

TICKET = 1
FETCH = f"/tickets/{TICKET}.json"


@pytest.fixture
def headers(users: UserFactory, db: Session, zendesk_url: str) -> dict[str, str]:
    user, headers = users.authed()
    configure_zendesk(db, user, zendesk_url)
    return headers


def process(client: TestClient, headers: dict[str, str], ticket_id: int = TICKET):
    return client.post("/tickets/process", json={"ticket_id": ticket_id}, headers=headers)


def our_notes(sim: ZendeskSimulator, ticket_id: int) -> list[dict]:
    return [
        comment
        for comment in sim.ticket_comments(ticket_id)
        if not comment.get("public", True) and "AI triage" in comment.get("body", "")
    ]


def stored(db: Session) -> tuple[int, int]:
    return (
        int(db.scalar(select(func.count(Ticket.id))) or 0),
        int(db.scalar(select(func.count(TicketAnalysis.id))) or 0),
    )


# --- one ticket over the API ----------------------------------------------------------------


def test_429_storm_within_the_retry_budget_still_processes_once(
    client: TestClient, headers: dict[str, str], zendesk_sim: ZendeskSimulator, db: Session
) -> None:
    zendesk_sim.fail_next(2, 429, path_contains=FETCH)  # no Retry-After: jittered backoff
    response = process(client, headers)
    assert response.status_code == 200, response.text
    assert len(zendesk_sim.calls_matching(method="GET", path_contains=FETCH)) == 3
    assert stored(db) == (1, 1)
    assert len(our_notes(zendesk_sim, TICKET)) == 1


def test_429_storm_beyond_the_retry_budget_is_503_with_retry_after_after_bounded_tries(
    client: TestClient, headers: dict[str, str], zendesk_sim: ZendeskSimulator, db: Session
) -> None:
    zendesk_sim.fail_next(20, 429, retry_after=0.01, path_contains=FETCH)
    started = time.monotonic()
    response = process(client, headers)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    error = response.json()["error"]
    assert error["code"] == "zendesk_rate_limited"
    assert error["details"] == {"retry_after_s": 1}
    assert "429" in error["message"]
    attempts = zendesk_sim.calls_matching(method="GET", path_contains=FETCH)
    assert len(attempts) == get_settings().zendesk_max_retries + 1
    assert time.monotonic() - started < 5
    assert stored(db) == (0, 0)


def test_a_429_without_retry_after_still_tells_the_client_when_to_come_back(
    client: TestClient, headers: dict[str, str], zendesk_sim: ZendeskSimulator
) -> None:
    zendesk_sim.fail_next(20, 429, path_contains=FETCH)
    response = process(client, headers)
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(DEFAULT_UPSTREAM_RETRY_AFTER_S)
    documented = client.get("/openapi.json").json()["paths"]["/tickets/process"]["post"]
    assert "rate limited" in documented["responses"]["503"]["description"]


def test_a_retry_after_beyond_the_cap_is_not_waited_out(
    client: TestClient, headers: dict[str, str], zendesk_sim: ZendeskSimulator, db: Session
) -> None:
    zendesk_sim.fail_next(1, 429, retry_after=3600, path_contains=FETCH)
    started = time.monotonic()
    response = process(client, headers)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3600"  # Zendesk's wait, passed on
    assert time.monotonic() - started < 2
    assert len(zendesk_sim.calls_matching(method="GET", path_contains=FETCH)) == 1
    assert stored(db) == (0, 0)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_burst_on_the_fetch_is_retried(
    client: TestClient,
    headers: dict[str, str],
    zendesk_sim: ZendeskSimulator,
    db: Session,
    status: int,
) -> None:
    zendesk_sim.fail_next(2, status, path_contains=FETCH)
    response = process(client, headers)
    assert response.status_code == 200, response.text
    assert stored(db) == (1, 1)


def test_5xx_beyond_the_retry_budget_is_502_and_nothing_is_stored(
    client: TestClient, headers: dict[str, str], zendesk_sim: ZendeskSimulator, db: Session
) -> None:
    zendesk_sim.fail_next(20, 500, path_contains=FETCH)
    response = process(client, headers)
    assert response.status_code == 502
    assert "500" in response.json()["error"]["message"]
    assert len(zendesk_sim.calls_matching(method="GET", path_contains=FETCH)) == 3
    assert stored(db) == (0, 0)


def test_5xx_on_the_tag_write_keeps_the_analysis_and_a_retry_writes_once(
    client: TestClient, headers: dict[str, str], zendesk_sim: ZendeskSimulator, db: Session
) -> None:
    attempts = get_settings().zendesk_max_retries + 1
    zendesk_sim.fail_next(attempts, 500, path_contains="/tags.json")  # every try fails
    first = process(client, headers)
    assert first.status_code == 200
    assert first.json()["write_back_status"] == "failed"
    assert len(zendesk_sim.calls_matching(method="PUT", path_contains="/tags.json")) == attempts
    assert stored(db) == (1, 1)
    second = process(client, headers)
    assert second.json()["write_back_status"] == "written"
    assert stored(db) == (1, 1)
    assert len(our_notes(zendesk_sim, TICKET)) == 1
    tags = zendesk_sim.ticket(TICKET)["tags"]
    assert len(tags) == len(set(tags))


@pytest.mark.usefixtures("fresh_zendesk_clients")
def test_a_timed_out_fetch_is_retried(
    client: TestClient,
    headers: dict[str, str],
    zendesk_sim: ZendeskSimulator,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "zendesk_timeout_s", 0.3)
    zendesk_sim.hang_next(1, 1.0, path_contains=FETCH)
    response = process(client, headers)
    assert response.status_code == 200, response.text
    assert len(zendesk_sim.calls_matching(method="GET", path_contains=FETCH)) == 2
    assert stored(db) == (1, 1)


@pytest.mark.usefixtures("fresh_zendesk_clients")
def test_fetch_timing_out_every_time_is_502_within_bounds(
    client: TestClient,
    headers: dict[str, str],
    zendesk_sim: ZendeskSimulator,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "zendesk_timeout_s", 0.3)
    zendesk_sim.hang_next(10, 1.0, path_contains=FETCH)
    started = time.monotonic()
    response = process(client, headers)
    assert response.status_code == 502
    assert "timed out" in response.json()["error"]["message"]
    assert time.monotonic() - started < 3  # 3 tries of 0.3 s plus short backoffs
    assert stored(db) == (0, 0)


@pytest.mark.usefixtures("fresh_zendesk_clients")
def test_a_timed_out_note_is_not_posted_twice(
    client: TestClient,
    headers: dict[str, str],
    zendesk_sim: ZendeskSimulator,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The note write times out but Zendesk applies it: reprocessing must not post it again."""
    monkeypatch.setattr(get_settings(), "zendesk_timeout_s", 0.3)
    zendesk_sim.hang_next(1, 0.01, path_contains=FETCH)  # the fetch: a harmless stall
    zendesk_sim.hang_next(1, 0.6, path_contains=FETCH)  # the note (PUT, same path)
    first = process(client, headers)
    assert first.status_code == 200
    assert first.json()["write_back_status"] == "failed"
    time.sleep(0.5)  # Zendesk finishes the stalled write
    assert len(our_notes(zendesk_sim, TICKET)) == 1
    second = process(client, headers)
    assert second.status_code == 200
    assert len(our_notes(zendesk_sim, TICKET)) == 1
    assert stored(db) == (1, 1)


# --- batch jobs on a real worker ------------------------------------------------------------


def run_batch(
    client: TestClient, user: User, broker_url: str, ids: list[int], timeout_s: float = 45
) -> dict:
    with session_scope(sender_to(broker_url)) as db:
        job_id = batch_jobs.submit(db=db, user_id=user.id, zendesk_ticket_ids=ids).id
    headers = login(client, user)

    def finished() -> dict | None:
        body = client.get(f"/tickets/jobs/{job_id}", headers=headers).json()
        return body if body["finished_at"] else None

    return dict(wait_for(finished, timeout_s=timeout_s, every_s=0.1))


@pytest.mark.postgres_only
def test_batch_rides_out_a_429_storm_and_5xx_bursts_without_duplicates(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
    redis_broker: str,
    engine: Engine,
) -> None:
    start_worker("faults")
    ids = [*open_ticket_ids(zendesk_sim, 12), 999_999]  # 999999 is not in Zendesk
    zendesk_sim.fail_next(2, 429, path_contains="show_many")  # retried inside the client
    zendesk_sim.fail_next(3, 503, path_contains="update_many")  # exhausts it: task retry
    body = run_batch(live_client, committed_user, redis_broker, ids)
    assert body["state"] == "partially_failed", body
    assert body["progress"] == {"done": 12, "failed": 1, "total": 13}
    missing = next(item for item in body["items"] if item["ticket_id"] == 999_999)
    assert "not found" in missing["error"]
    for ticket_id in ids[:-1]:
        assert len(our_notes(zendesk_sim, ticket_id)) == 1, ticket_id
        tags = zendesk_sim.ticket(ticket_id)["tags"]
        assert len(tags) == len(set(tags))
    user = committed_user.id
    assert count(engine, "SELECT count(*) FROM tickets WHERE user_id = :u", u=user) == 12
    assert count(engine, "SELECT count(*) FROM ticket_analyses WHERE user_id = :u", u=user) == 12


@pytest.mark.postgres_only
def test_batch_whose_bulk_update_times_out_finishes_without_posting_twice(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
    redis_broker: str,
) -> None:
    start_worker("faults", ZENDESK_TIMEOUT_S="0.3")
    ids = open_ticket_ids(zendesk_sim, 8)
    zendesk_sim.hang_next(1, 0.8, path_contains="update_many")  # applied, but too late
    body = run_batch(live_client, committed_user, redis_broker, ids)
    assert body["state"] == "succeeded", body
    for ticket_id in ids:
        assert len(our_notes(zendesk_sim, ticket_id)) == 1, ticket_id
