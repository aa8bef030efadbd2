"""Batch jobs end to end: the API, a real Celery worker on Redis, the Zendesk simulator."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.accounts import integrations
from app.batch import jobs as batch_jobs
from app.database import session_scope
from app.models import BatchJob, User, utcnow
from sandbox.openai_sim import SIM_API_KEY, OpenAISimulator
from sandbox.zendesk import ZendeskSimulator
from tests.factories import open_ticket_ids
from tests.worker.conftest import WorkerFactory, count, login, point_celery_at, wait_for

pytestmark = pytest.mark.postgres_only


def our_notes(sim: ZendeskSimulator, ticket_id: int) -> list[dict]:
    return [
        comment
        for comment in sim.ticket_comments(ticket_id)
        if not comment.get("public", True) and "AI triage" in comment.get("body", "")
    ]


def submit(client: TestClient, headers: dict[str, str], ids: list[int]) -> str:
    response = client.post("/tickets/process-batch", json={"ticket_ids": ids}, headers=headers)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/tickets/jobs/{response.json()['id']}"
    return str(response.json()["id"])


def job(client: TestClient, headers: dict[str, str], job_id: str) -> dict:
    response = client.get(f"/tickets/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def finished(client: TestClient, headers: dict[str, str], job_id: str) -> dict:
    return wait_for(
        lambda: (body := job(client, headers, job_id))["finished_at"] and body, timeout_s=60
    )


def test_real_worker_processes_a_batch_with_bulk_calls_and_partial_failure(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
    engine: Engine,
) -> None:
    headers = login(live_client, committed_user)
    start_worker()
    closed = next(
        t for t in sorted(zendesk_sim.tickets) if zendesk_sim.ticket(t)["status"] == "closed"
    )
    ids = [*open_ticket_ids(zendesk_sim, 38), closed, 999_999]  # 999999 is not in Zendesk
    job_id = submit(live_client, headers, ids)
    body = finished(live_client, headers, job_id)
    assert body["state"] == "partially_failed"
    assert body["progress"] == {"done": 39, "failed": 1, "total": 40}
    assert body["origin"] == "api"
    items = {item["ticket_id"]: item for item in body["items"]}
    assert [item["ticket_id"] for item in body["items"]] == ids  # in submitted order
    missing = items[999_999]
    assert missing["status"] == "failed" and "not found" in missing["error"]
    assert missing["result"] is None and missing["write_back"] is None
    assert our_notes(zendesk_sim, closed) == []  # analysed, but closed tickets stay untouched
    assert items[closed]["write_back"] == "skipped" and items[closed]["result"] is not None
    for ticket_id in ids[:-2]:
        assert len(our_notes(zendesk_sim, ticket_id)) == 1
        tags = zendesk_sim.ticket(ticket_id)["tags"]
        result = items[ticket_id]["result"]
        assert items[ticket_id]["write_back"] == "written"
        assert f"ai_category_{result['category']}" in tags
        assert f"ai_urgency_{result['urgency']}" in tags
        stored = live_client.get(f"/tickets/{ticket_id}", headers=headers).json()
        assert sorted(stored["ticket"]["tags"]) == sorted(tags)  # as Zendesk has them
    calls = [call for call in zendesk_sim.calls if "/api/v2/" in call.path]
    assert len(calls) <= 4, [call.path for call in calls]
    assert (
        count(engine, "SELECT count(*) FROM tickets WHERE user_id = :u", u=committed_user.id) == 39
    )


def test_items_say_when_nothing_was_written_and_why(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
) -> None:
    headers = login(live_client, committed_user)
    start_worker()
    ids = open_ticket_ids(zendesk_sim, 3)

    def write_backs() -> set[str]:
        body = finished(live_client, headers, submit(live_client, headers, ids))
        assert body["state"] == "succeeded", body
        return {item["write_back"] for item in body["items"]}

    assert write_backs() == {"written"}
    assert write_backs() == {"unchanged"}  # Zendesk already has our tags and note
    off = {"write_tags": False, "write_note": False}
    assert live_client.put("/settings/", json=off, headers=headers).status_code == 200
    assert write_backs() == {"disabled"}
    detail = live_client.get(f"/tickets/{ids[0]}", headers=headers).json()
    assert detail["logs"][0]["step"] == "write_back"
    assert detail["logs"][0]["message"] == "write-back is off in the settings"
    for ticket_id in ids:
        assert len(our_notes(zendesk_sim, ticket_id)) == 1


def test_progress_is_visible_while_a_job_runs(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    openai_sim: OpenAISimulator,
    openai_base_url: str,
    start_worker: WorkerFactory,
) -> None:
    with session_scope() as db:
        integrations.update(
            db=db,
            user_id=committed_user.id,
            changes={"openai_api_key": SIM_API_KEY, "openai_base_url": openai_base_url},
        )
    openai_sim.latency_s = 0.3
    headers = login(live_client, committed_user)
    start_worker(BATCH_CONCURRENCY="2")
    job_id = submit(live_client, headers, open_ticket_ids(zendesk_sim, 20))
    running = wait_for(
        lambda: (
            (body := job(live_client, headers, job_id))["state"] == "running"
            and 0 < body["progress"]["done"] < 20
            and body
        )
    )
    assert running["started_at"] is not None and running["finished_at"] is None
    assert finished(live_client, headers, job_id)["state"] == "succeeded"


@pytest.mark.parametrize(
    "zendesk_job_s_after_kill",
    [
        pytest.param(0.05, id="zendesk-done-before-rescue"),
        # The killed worker's update_many is still being applied when the rescuer resumes.
        pytest.param(8.0, id="zendesk-still-applying"),
    ],
)
def test_worker_killed_mid_batch_is_finished_by_another_without_duplicates(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
    engine: Engine,
    zendesk_job_s_after_kill: float,
) -> None:
    headers = login(live_client, committed_user)
    zendesk_sim.job_delay_s = max(3.0, zendesk_job_s_after_kill)
    first = start_worker("doomed")
    ids = open_ticket_ids(zendesk_sim, 30)
    jobs_before = len(zendesk_sim.jobs)
    job_id = submit(live_client, headers, ids)
    wait_for(lambda: len(zendesk_sim.jobs) > jobs_before)  # the bulk update is in flight
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    zendesk_sim.job_delay_s = zendesk_job_s_after_kill
    start_worker("rescuer")
    body = finished(live_client, headers, job_id)
    assert body["state"] == "succeeded", body
    for ticket_id in ids:
        assert len(our_notes(zendesk_sim, ticket_id)) == 1, ticket_id
        tags = zendesk_sim.ticket(ticket_id)["tags"]
        assert len(tags) == len(set(tags))
    user = committed_user.id
    assert count(engine, "SELECT count(*) FROM tickets WHERE user_id = :u", u=user) == 30
    assert count(engine, "SELECT count(*) FROM ticket_analyses WHERE user_id = :u", u=user) == 30
    attempts = count(engine, "SELECT attempts FROM batch_jobs WHERE id = :j", j=job_id)
    assert attempts >= 2


def test_a_job_whose_settings_were_removed_meanwhile_fails_with_the_reason(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
) -> None:
    headers = login(live_client, committed_user)
    job_id = submit(live_client, headers, open_ticket_ids(zendesk_sim, 2))  # no worker yet
    cleared = live_client.put("/settings/", json={"zendesk_api_token": None}, headers=headers)
    assert cleared.status_code == 200, cleared.text
    start_worker()
    body = finished(live_client, headers, job_id)
    assert body["state"] == "failed", body
    assert "zendesk_api_token" in body["error"], body
    assert all(item["status"] == "failed" and item["error"] for item in body["items"]), body


def test_jobs_whose_task_was_lost_are_handed_to_the_queue_again(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
) -> None:
    from app.worker import resume_stalled_jobs

    ids = open_ticket_ids(zendesk_sim, 6)
    long_ago = utcnow() - timedelta(hours=1)
    with session_scope() as db:  # created and committed, but never reached the broker
        lost = batch_jobs.create_job(db=db, user_id=committed_user.id, zendesk_ticket_ids=ids[:2])
        lost.dispatched_at = long_ago
        orphan = batch_jobs.create_job(
            db=db, user_id=committed_user.id, zendesk_ticket_ids=ids[2:4]
        )
        orphan.state, orphan.lease_owner = "running", "gone@host/1"
        orphan.dispatched_at = orphan.lease_expires_at = long_ago
        waiting = batch_jobs.create_job(
            db=db, user_id=committed_user.id, zendesk_ticket_ids=ids[4:]
        )
        lost_id, orphan_id, waiting_id = lost.id, orphan.id, waiting.id
    start_worker()
    assert resume_stalled_jobs() >= 2
    headers = login(live_client, committed_user)
    for job_id in (lost_id, orphan_id):
        assert finished(live_client, headers, job_id)["state"] == "succeeded"
    assert job(live_client, headers, waiting_id)["state"] == "queued"  # not due yet
    with session_scope() as db:
        assert not {lost_id, orphan_id, waiting_id} & set(batch_jobs.stalled_jobs(db=db))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"ticket_ids": list(range(1, 102))}, "ticket_ids"),
        ({"ticket_ids": [1, 2, 2]}, "duplicate"),
        ({"ticket_ids": [0]}, "ticket_ids"),
        ({"ticket_ids": [-3]}, "ticket_ids"),
        ({"ticket_ids": []}, "ticket_ids"),
        ({"ticket_ids": ["7"]}, "ticket_ids"),
        ({}, "ticket_ids"),
    ],
)
def test_batch_rejects_bad_input_with_422(
    live_client: TestClient, committed_user: User, payload: dict, message: str
) -> None:
    headers = login(live_client, committed_user)
    response = live_client.post("/tickets/process-batch", json=payload, headers=headers)
    assert response.status_code == 422
    assert message in response.json()["error"]["message"]


def test_another_users_job_is_404(
    live_client: TestClient, committed_user: User, engine: Engine
) -> None:
    with session_scope() as db:
        job_id = batch_jobs.create_job(db=db, user_id=committed_user.id, zendesk_ticket_ids=[1]).id
    live_client.post(
        "/auth/register", json={"email": "intruder@example.com", "password": "password-123"}
    )
    intruder = live_client.post(
        "/auth/login", data={"username": "intruder@example.com", "password": "password-123"}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {intruder}"}
    try:
        assert live_client.get(f"/tickets/jobs/{job_id}", headers=headers).status_code == 404
        listed = live_client.get("/tickets/jobs", headers=headers).json()["items"]
        assert job_id not in [item["id"] for item in listed]
    finally:
        with engine.begin() as connection:
            from sqlalchemy import text

            connection.execute(text("DELETE FROM users WHERE email = 'intruder@example.com'"))


def test_unreachable_queue_at_commit_keeps_the_job_for_the_stalled_job_sweep(
    live_client: TestClient, committed_user: User, engine: Engine, redis_broker: str
) -> None:
    headers = login(live_client, committed_user)
    point_celery_at("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        response = live_client.post(
            "/tickets/process-batch", json={"ticket_ids": [1, 2]}, headers=headers
        )
    finally:
        point_celery_at(redis_broker)
    assert response.status_code == 202, response.text  # the job is committed: nothing lost
    job_id = response.json()["id"]
    assert job(live_client, headers, job_id)["state"] == "queued"
    with session_scope() as db:
        stored = db.get_one(BatchJob, job_id)
        stored.dispatched_at = utcnow() - batch_jobs.STALL_AFTER * 2
    with session_scope() as db:
        assert job_id in batch_jobs.stalled_jobs(db=db)  # sent again after this commit
