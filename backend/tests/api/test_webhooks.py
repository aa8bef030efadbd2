"""POST /webhooks/zendesk/{integration_id}: signatures, dedupe, our own changes, latency."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import unit_of_work
from app.accounts import integrations
from app.batch import jobs as batch_jobs
from app.models import BatchJob, BatchJobItem, User, WebhookDelivery
from app.schemas import MAX_TICKET_ID
from app.unit_of_work import PROCESS_BATCH, QueuedJob
from sandbox.zendesk import iso_utc, sign_webhook
from tests.factories import UserFactory, configure_zendesk, create_analysed_ticket

SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="


@dataclass
class Queue:
    """Stands in for the Celery queue: records the batch job ids sent after the commit."""

    job_ids: list[str] = field(default_factory=list)
    down: bool = False

    def __call__(self, job: QueuedJob) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        assert job.task == PROCESS_BATCH
        self.job_ids.append(job.args[0])


@pytest.fixture
def queue(app: FastAPI) -> Queue:
    recorder = Queue()
    app.state.job_sender = recorder
    return recorder


@dataclass
class Hook:
    user: User
    url: str


@pytest.fixture
def hook(users: UserFactory, db: Session) -> Hook:
    user = users.create()
    configure_zendesk(db, user, "https://acme.zendesk.com", zendesk_webhook_secret=SECRET)
    row = integrations.get_row(db=db, user_id=user.id)
    assert row is not None
    return Hook(user=user, url=f"/webhooks/zendesk/{row.public_id}")


_invocations = iter(range(7_000_000_001, 8_000_000_000))


def deliver(
    client: TestClient,
    url: str,
    body: Any,
    *,
    secret: str = SECRET,
    signed_at: datetime | None = None,
    invocation_id: str | None = None,
    headers: dict[str, str] | None = None,
):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    timestamp = iso_utc(signed_at or datetime.now(UTC))
    sent = {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Id": "01GK8E6BKWMJZD2T8Y5AXJQMG5",
        "X-Zendesk-Webhook-Invocation-Id": invocation_id or str(next(_invocations)),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Signature": sign_webhook(secret, timestamp, raw),
    }
    sent.update(headers or {})
    return client.post(url, content=raw, headers=sent)


def created_event(ticket_id: int, event_id: str = "01HNXXXX-CTEXAMPLE") -> dict[str, Any]:
    return {
        "type": "zen:event-type:ticket.created",
        "account_id": 88888888,
        "id": event_id,
        "time": "2026-11-25T10:00:00Z",
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket_id}",
        "detail": {
            "id": str(ticket_id),
            "status": "NEW",
            "created_at": "2026-11-25T10:00:00Z",
            "updated_at": "2026-11-25T10:00:00Z",
        },
        "event": {},
    }


def jobs_of(db: Session, user: User) -> list[BatchJob]:
    return list(db.scalars(select(BatchJob).where(BatchJob.user_id == user.id)))


def deliveries_of(db: Session, user: User) -> list[WebhookDelivery]:
    return list(
        db.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.user_id == user.id)
            .order_by(WebhookDelivery.id)
        )
    )


def test_trigger_delivery_is_queued_as_a_webhook_job(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    response = deliver(client, hook.url, {"ticket_id": "123"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and body["ticket_id"] == 123
    (job,) = jobs_of(db, hook.user)
    assert (job.id, job.origin, job.total, job.state) == (body["job_id"], "webhook", 1, "queued")
    items = db.scalars(select(BatchJobItem.zendesk_ticket_id).where(BatchJobItem.job_id == job.id))
    assert list(items) == [123]
    assert queue.job_ids == [job.id]
    (delivery,) = deliveries_of(db, hook.user)
    assert (delivery.status, delivery.zendesk_ticket_id, delivery.job_id) == ("queued", 123, job.id)
    assert delivery.webhook_id == "01GK8E6BKWMJZD2T8Y5AXJQMG5"


def test_ticket_created_event_is_queued(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    response = deliver(client, hook.url, created_event(35436))
    assert response.status_code == 202, response.text
    assert response.json()["ticket_id"] == 35436
    (delivery,) = deliveries_of(db, hook.user)
    assert delivery.event_type == "zen:event-type:ticket.created"
    assert delivery.event_key == "event:01HNXXXX-CTEXAMPLE"
    assert len(queue.job_ids) == 1


def test_missing_signature_is_rejected(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    response = client.post(hook.url, json={"ticket_id": "123"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_signature"
    assert "www-authenticate" not in response.headers
    assert deliveries_of(db, hook.user) == [] and queue.job_ids == []


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "changed_body", "changed_timestamp", "garbage"],
)
def test_bad_signature_is_rejected(
    client: TestClient, hook: Hook, queue: Queue, db: Session, tamper: str
) -> None:
    raw = json.dumps({"ticket_id": "123"}).encode()
    timestamp = iso_utc(datetime.now(UTC))
    signature = sign_webhook(SECRET, timestamp, raw)
    if tamper == "wrong_secret":
        signature = sign_webhook("another-secret", timestamp, raw)
    elif tamper == "changed_body":
        raw = json.dumps({"ticket_id": "124"}).encode()
    elif tamper == "changed_timestamp":
        timestamp = iso_utc(datetime.now(UTC) - timedelta(seconds=1))
    else:
        signature = "not base64 at all \xe9"  # sent as latin-1 bytes
    response = client.post(
        hook.url,
        content=raw,
        headers={
            "X-Zendesk-Webhook-Signature": signature.encode("latin-1"),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "X-Zendesk-Webhook-Invocation-Id": "1",
        },
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert deliveries_of(db, hook.user) == [] and queue.job_ids == []


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_or_future_timestamp_is_rejected(
    client: TestClient, hook: Hook, queue: Queue, db: Session, offset: timedelta
) -> None:
    response = deliver(client, hook.url, {"ticket_id": "123"}, signed_at=datetime.now(UTC) + offset)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "stale_signature"
    assert "stale" in response.json()["error"]["message"]
    assert queue.job_ids == []


@pytest.mark.parametrize("timestamp", ["abc", "1732550000", "2024-13-01T00:00:00Z"])
def test_signed_timestamp_that_is_not_iso_8601_gets_its_own_401(
    client: TestClient, hook: Hook, queue: Queue, db: Session, timestamp: str
) -> None:
    raw = json.dumps({"ticket_id": "123"}).encode()
    response = client.post(
        hook.url,
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-Zendesk-Webhook-Invocation-Id": "1",
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "X-Zendesk-Webhook-Signature": sign_webhook(SECRET, timestamp, raw),
        },
    )
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_timestamp"
    assert error["message"] == (
        "X-Zendesk-Webhook-Signature-Timestamp must be an ISO-8601 time, as Zendesk sends it "
        "(e.g. 2024-01-01T00:00:00Z)"
    )
    assert "www-authenticate" not in response.headers
    assert deliveries_of(db, hook.user) == [] and queue.job_ids == []


def test_timestamp_within_five_minutes_is_accepted(
    client: TestClient, hook: Hook, queue: Queue
) -> None:
    signed_at = datetime.now(UTC) - timedelta(minutes=4)
    assert deliver(client, hook.url, {"ticket_id": "5"}, signed_at=signed_at).status_code == 202


def test_replayed_invocation_is_processed_once(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    first = deliver(client, hook.url, {"ticket_id": "77"}, invocation_id="8350205582")
    again = deliver(client, hook.url, {"ticket_id": "77"}, invocation_id="8350205582")
    assert first.status_code == 202 and again.status_code == 200, again.text
    assert again.json()["status"] == "duplicate"
    assert again.json()["job_id"] == first.json()["job_id"]
    assert len(jobs_of(db, hook.user)) == 1 and len(queue.job_ids) == 1
    assert len(deliveries_of(db, hook.user)) == 1


def test_same_event_under_a_new_invocation_is_processed_once(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    assert deliver(client, hook.url, created_event(88)).status_code == 202
    again = deliver(client, hook.url, created_event(88))  # new invocation id, same event id
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(jobs_of(db, hook.user)) == 1 and len(queue.job_ids) == 1


def test_replay_under_a_new_invocation_id_is_not_processed_again(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    raw = json.dumps({"ticket_id": "78"}).encode()
    timestamp = iso_utc(datetime.now(UTC))
    signed = {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Signature": sign_webhook(SECRET, timestamp, raw),
    }
    first = client.post(
        hook.url, content=raw, headers=signed | {"X-Zendesk-Webhook-Invocation-Id": "1"}
    )
    assert first.status_code == 202, first.text
    job = db.get(BatchJob, first.json()["job_id"])
    assert job is not None
    job.state = "succeeded"  # processed: the ticket is no longer waiting in a queued job
    db.flush()
    replay = client.post(
        hook.url, content=raw, headers=signed | {"X-Zendesk-Webhook-Invocation-Id": "2"}
    )
    assert replay.status_code == 200, replay.text
    assert replay.json()["status"] == "duplicate" and replay.json()["job_id"] == job.id
    assert len(jobs_of(db, hook.user)) == 1 and queue.job_ids == [job.id]


def test_ticket_waiting_in_a_queued_job_is_not_queued_again(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    assert deliver(client, hook.url, {"ticket_id": "91"}).status_code == 202
    later = datetime.now(UTC) + timedelta(seconds=2)
    again = deliver(client, hook.url, {"ticket_id": "91"}, signed_at=later)  # a 2nd trigger run
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert [d.status for d in deliveries_of(db, hook.user)] == ["queued", "duplicate"]
    assert len(jobs_of(db, hook.user)) == 1


def test_deliveries_while_a_job_waits_share_that_job(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    job_ids = {deliver(client, hook.url, {"ticket_id": str(n)}).json()["job_id"] for n in (1, 2, 3)}
    assert len(job_ids) == 1
    (job,) = jobs_of(db, hook.user)
    db.refresh(job)
    assert job.total == 3
    positions = db.execute(
        select(BatchJobItem.zendesk_ticket_id, BatchJobItem.position)
        .where(BatchJobItem.job_id == job.id)
        .order_by(BatchJobItem.position)
    ).all()
    assert [tuple(row) for row in positions] == [(1, 0), (2, 1), (3, 2)]
    assert queue.job_ids == [job.id]  # dispatched once


def test_job_already_picked_up_is_not_joined(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    first = deliver(client, hook.url, {"ticket_id": "1"}).json()["job_id"]
    job = db.get(BatchJob, first)
    assert job is not None
    job.state = "running"
    db.flush()
    second = deliver(client, hook.url, {"ticket_id": "2"})
    assert second.status_code == 202 and second.json()["job_id"] != first
    assert len(queue.job_ids) == 2


def test_unknown_integration_is_not_found(client: TestClient, queue: Queue) -> None:
    response = deliver(
        client, "/webhooks/zendesk/0123456789abcdef0123456789abcdef", {"ticket_id": 1}
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_webhook"


def test_integration_without_signing_secret_refuses_deliveries(
    client: TestClient, users: UserFactory, db: Session, queue: Queue
) -> None:
    user = users.create()
    configure_zendesk(db, user, "https://acme.zendesk.com")
    row = integrations.get_row(db=db, user_id=user.id)
    assert row is not None
    response = deliver(client, f"/webhooks/zendesk/{row.public_id}", {"ticket_id": "1"})
    assert response.status_code == 401
    assert "zendesk_webhook_secret" in response.json()["error"]["message"]


def test_zendesk_not_configured_is_a_400(
    client: TestClient, users: UserFactory, db: Session, queue: Queue
) -> None:
    user = users.create()
    row = integrations.update(db=db, user_id=user.id, changes={"zendesk_webhook_secret": SECRET})
    response = deliver(client, f"/webhooks/zendesk/{row.public_id}", {"ticket_id": "1"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_configured"
    assert queue.job_ids == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ticket_id": "{{ticket.id}}"},
        {"ticket_id": "abc"},
        {"ticket_id": "12a"},
        {"ticket_id": 0},
        {"ticket_id": -5},
        {"ticket_id": "-5"},
        {"ticket_id": 1.5},
        {"ticket_id": True},
        {"ticket_id": None},
        {"ticket_id": str(2**63)},
        {"type": "zen:event-type:ticket.created", "detail": {"id": "x"}},
        [1, 2],
        b"not json",
        b"\xff\xfe",
    ],
)
def test_body_without_a_valid_ticket_id_is_422(
    client: TestClient, hook: Hook, queue: Queue, db: Session, body: Any
) -> None:
    response = deliver(client, hook.url, body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert deliveries_of(db, hook.user) == [] and queue.job_ids == []


@pytest.mark.parametrize(
    ("body", "ticket_id"),
    [
        ({"ticket_id": 42}, 42),
        ({"ticket_id": " 42 "}, 42),
        ({"ticket": {"id": 42, "subject": "x"}}, 42),
        ({"id": "42"}, 42),
        ({"type": "zen:event-type:ticket.created", "id": "e1", "subject": "zen:ticket:42"}, 42),
    ],
)
def test_lenient_body_shapes_are_accepted(
    client: TestClient, hook: Hook, queue: Queue, body: dict[str, Any], ticket_id: int
) -> None:
    response = deliver(client, hook.url, body)
    assert response.status_code == 202, response.text
    assert response.json()["ticket_id"] == ticket_id


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"ticket_id": str(MAX_TICKET_ID + 1)}, "ticket_id"),
        ({"ticket_id": MAX_TICKET_ID + 1}, "ticket_id"),
        ({"ticket_id": str(2**63 - 1)}, "ticket_id"),
        ({"ticket": {"id": 2**63 - 1}}, "ticket.id"),
        (created_event(MAX_TICKET_ID + 1), "detail.id"),
    ],
)
def test_ticket_id_above_the_api_wide_cap_is_422(
    client: TestClient, hook: Hook, queue: Queue, db: Session, body: dict[str, Any], where: str
) -> None:
    response = deliver(client, hook.url, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == f"{where}: a ticket id is at most 9007199254740992"
    assert error["details"] == [
        {"loc": ["body", *where.split(".")], "msg": "must be at most 9007199254740992"}
    ]
    assert deliveries_of(db, hook.user) == [] and queue.job_ids == []


def test_ticket_id_at_the_cap_is_accepted(client: TestClient, hook: Hook, queue: Queue) -> None:
    response = deliver(client, hook.url, {"ticket_id": str(MAX_TICKET_ID)})
    assert response.status_code == 202, response.text
    assert response.json()["ticket_id"] == 2**53
    assert len(queue.job_ids) == 1


def test_non_ticket_event_is_acknowledged_and_ignored(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    body = {
        "type": "zen:event-type:user.active_changed",
        "id": "2b24ef10",
        "detail": {"id": "6596848315901"},
    }
    response = deliver(client, hook.url, body)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert deliveries_of(db, hook.user) == [] and queue.job_ids == []


def test_ticket_change_events_do_not_start_processing(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    body = {**created_event(55, "evt-tags"), "type": "zen:event-type:ticket.tags_changed"}
    response = deliver(client, hook.url, body)
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert [d.status for d in deliveries_of(db, hook.user)] == ["ignored"]
    assert queue.job_ids == []


def test_update_caused_by_our_own_write_back_is_ignored(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    written_back_at = datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)
    analysis = create_analysed_ticket(db, hook.user, zendesk_ticket_id=4242)
    analysis.written_back_at = written_back_at
    db.flush()
    ours = deliver(client, hook.url, {"ticket_id": "4242", "updated_at": "2026-11-25T10:00:05Z"})
    assert ours.status_code == 200, ours.text
    assert ours.json() == {
        "status": "ignored",
        "ticket_id": 4242,
        "job_id": None,
        "detail": "the ticket's last change is our own write-back",
    }
    later = deliver(client, hook.url, {"ticket_id": "4242", "updated_at": "2026-11-25T10:03:00Z"})
    assert later.status_code == 202 and later.json()["status"] == "queued"
    assert len(queue.job_ids) == 1


def test_delivery_during_our_write_back_is_ignored(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    first = deliver(client, hook.url, {"ticket_id": "31"}).json()["job_id"]
    job = db.get(BatchJob, first)
    assert job is not None
    job.state = "running"
    db.execute(
        BatchJobItem.__table__.update().where(BatchJobItem.job_id == first).values(status="writing")
    )
    db.flush()
    later = datetime.now(UTC) + timedelta(seconds=2)
    response = deliver(client, hook.url, {"ticket_id": "31"}, signed_at=later)
    assert response.status_code == 200
    assert response.json()["detail"] == "our own write-back to this ticket is in progress"
    assert len(queue.job_ids) == 1


def test_queue_down_at_commit_keeps_the_job_for_the_stalled_job_sweep(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    queue.down = True
    accepted = deliver(client, hook.url, {"ticket_id": "64"}, invocation_id="555")
    assert accepted.status_code == 202, accepted.text
    (job,) = jobs_of(db, hook.user)
    assert (job.id, job.state) == (accepted.json()["job_id"], "queued") and queue.job_ids == []
    retried = deliver(client, hook.url, {"ticket_id": "64"}, invocation_id="555")
    assert retried.json()["status"] == "duplicate"  # Zendesk's retry starts nothing new

    queue.down = False
    db.refresh(job)
    assert job.dispatched_at is None  # the failed send is recorded: the next sweep takes it
    assert job.id in batch_jobs.stalled_jobs(db=db)
    unit_of_work.send_after_commit(db, queue)  # what the beat task does after its commit
    assert queue.job_ids == [job.id]


def test_secret_never_appears_in_logs(
    client: TestClient, hook: Hook, queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    deliver(client, hook.url, {"ticket_id": "9"})
    deliver(client, hook.url, {"ticket_id": "9"}, secret="wrong")
    assert SECRET not in caplog.text


def test_deliveries_in_a_row_are_each_stored_and_acknowledged_without_upstream_calls(
    client: TestClient, hook: Hook, queue: Queue, db: Session
) -> None:
    """The acknowledgement only stores and queues (the hook's Zendesk is never reachable
    here): how fast that is, is measured by bench/webhooks.py."""
    deliver(client, hook.url, {"ticket_id": "1"})
    for ticket_id in range(1000, 1040):
        response = deliver(client, hook.url, {"ticket_id": str(ticket_id)})
        assert response.status_code == 202, response.text
        assert response.json()["ticket_id"] == ticket_id
    assert len(deliveries_of(db, hook.user)) == 41
    queued = db.scalars(
        select(BatchJobItem.zendesk_ticket_id).where(BatchJobItem.job_id.in_(queue.job_ids))
    )
    assert sorted(queued) == [1, *range(1000, 1040)]  # every ticket in a queued job
    assert db.scalar(select(func.count()).select_from(WebhookDelivery)) >= 41
