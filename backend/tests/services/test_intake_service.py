"""Intake service: polling the incremental export (over HTTP, against an empty simulator
so only the tickets a test creates exist) and the pure webhook helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.accounts import integrations
from app.errors import Unauthorized, Unprocessable
from app.intake import polling as intake_polling
from app.intake import webhook_payloads
from app.intake.webhook_payloads import WebhookHeaders
from app.integrations.zendesk import ZendeskClient, ZendeskCredentials
from app.models import (
    BatchJob,
    BatchJobItem,
    IntegrationSettings,
    TicketAnalysis,
    User,
    WebhookDelivery,
    utcnow,
)
from app.pipeline import store as ticket_store
from app.unit_of_work import QueuedJob, UnitOfWork
from sandbox.serve import serve_in_thread
from sandbox.zendesk import ZendeskSimulator, create_zendesk_app, iso_utc, sign_webhook
from tests.factories import UserFactory, configure_zendesk
from tests.fixtures_zendesk import ZendeskServer


@dataclass
class Queue:
    job_ids: list[str] = field(default_factory=list)
    down: bool = False

    def __call__(self, job: QueuedJob) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.job_ids.append(job.args[0])


@pytest.fixture(scope="module")
def empty_zendesk() -> Iterator[ZendeskServer]:
    sim = ZendeskSimulator(seed_path=None)
    with serve_in_thread(create_zendesk_app(sim)) as url:
        yield ZendeskServer(sim=sim, url=url)


@pytest.fixture
def sim(empty_zendesk: ZendeskServer) -> Iterator[ZendeskSimulator]:
    empty_zendesk.sim.reset()
    yield empty_zendesk.sim
    empty_zendesk.sim.reset()


@pytest.fixture
def client(empty_zendesk: ZendeskServer, sim: ZendeskSimulator) -> Iterator[ZendeskClient]:
    zendesk = ZendeskClient(
        empty_zendesk.url,
        ZendeskCredentials(email=sim.email, api_token=sim.api_token),
        requests_per_minute=100_000,
        timeout_s=5.0,
        max_retries=1,
        backoff_base_s=0.01,
    )
    yield zendesk
    zendesk.close()


@dataclass
class Polling:
    user: User
    integration_id: int


@pytest.fixture
def polling(users: UserFactory, db: Session, empty_zendesk: ZendeskServer) -> Polling:
    user = users.create()
    configure_zendesk(db, user, empty_zendesk.url, polling_enabled=True, polling_interval_s=60)
    row = integrations.get_row(db=db, user_id=user.id)
    assert row is not None
    return Polling(user=user, integration_id=row.id)


def poll(
    db: Session, polling: Polling, client: ZendeskClient, queue: Queue, **options: object
) -> intake_polling.PollResult:
    return intake_polling.poll_integration(
        uow=UnitOfWork(db, queue),
        integration_id=polling.integration_id,
        client=client,
        **options,  # type: ignore[arg-type]
    )


def stored_cursor(db: Session, polling: Polling) -> tuple[str | None, datetime | None]:
    row = db.execute(
        select(IntegrationSettings.polling_cursor, IntegrationSettings.polling_last_run_at).where(
            IntegrationSettings.id == polling.integration_id
        )
    ).one()
    return row[0], row[1]


def job_tickets(db: Session, job_id: str) -> list[int]:
    return list(
        db.scalars(
            select(BatchJobItem.zendesk_ticket_id)
            .where(BatchJobItem.job_id == job_id)
            .order_by(BatchJobItem.position)
        )
    )


def export_calls(sim: ZendeskSimulator) -> list[dict[str, str]]:
    return [call.query for call in sim.calls_matching(path_contains="/incremental/tickets")]


def new_tickets(sim: ZendeskSimulator, n: int) -> list[int]:
    return [sim.create_ticket(f"Issue {i}", f"Something broke, case {i}.")["id"] for i in range(n)]


def agent_update(server: ZendeskServer, ticket_id: int, changes: dict) -> None:
    """A change made in Zendesk by someone else (an agent, through the API)."""
    response = httpx.put(
        f"{server.url}/api/v2/tickets/{ticket_id}.json",
        auth=(f"{server.sim.email}/token", server.sim.api_token),
        json={"ticket": changes},
    )
    assert response.status_code == 200, response.text


def mark_processed(db: Session, user: User, raw: dict) -> TicketAnalysis:
    """Store a ticket and its analysis as a finished job leaves them."""
    ticket = ticket_store.upsert_ticket(db=db, user_id=user.id, raw=raw)
    analysis = TicketAnalysis(
        ticket_id=ticket.id,
        user_id=user.id,
        category="bug",
        urgency="medium",
        sentiment="neutral",
        source="local",
        written_back_at=utcnow(),
    )
    db.add(analysis)
    db.flush()
    return analysis


# --- polling -------------------------------------------------------------------------------


def test_first_poll_queues_new_tickets_and_stores_the_cursor(
    db: Session, polling: Polling, client: ZendeskClient, sim: ZendeskSimulator
) -> None:
    ids = new_tickets(sim, 3)
    queue = Queue()
    before = datetime.now(UTC)
    result = poll(db, polling, client, queue)
    assert (result.pages, result.tickets_seen, result.queued) == (1, 3, 3)
    assert result.end_of_stream is True
    (job_id,) = result.job_ids
    assert queue.job_ids == [job_id]
    job = db.get(BatchJob, job_id)
    assert job is not None and (job.origin, job.total, job.state) == ("poll", 3, "queued")
    assert job_tickets(db, job_id) == ids
    (call,) = export_calls(sim)
    start_time = int(call["start_time"])
    assert abs(start_time - (before - timedelta(hours=1)).timestamp()) < 5
    cursor, last_run_at = stored_cursor(db, polling)
    assert cursor is not None and cursor == result.cursor
    assert last_run_at is not None and last_run_at >= before - timedelta(seconds=1)


def test_a_later_run_resumes_from_the_stored_cursor(
    db: Session,
    polling: Polling,
    client: ZendeskClient,
    sim: ZendeskSimulator,
    empty_zendesk: ZendeskServer,
) -> None:
    new_tickets(sim, 2)
    poll(db, polling, client, Queue())
    cursor, _ = stored_cursor(db, polling)
    # A restarted worker: new client, state read back from the database only.
    db.expire_all()
    with ZendeskClient(
        empty_zendesk.url,
        ZendeskCredentials(email=sim.email, api_token=sim.api_token),
        requests_per_minute=100_000,
    ) as restarted:
        queue = Queue()
        quiet = poll(db, polling, restarted, queue)
        assert quiet.queued == 0 and queue.job_ids == []
        assert export_calls(sim)[-1] == {"cursor": cursor}
        (later,) = new_tickets(sim, 1)
        result = poll(db, polling, restarted, queue)
    assert export_calls(sim)[-1]["cursor"] == cursor
    assert result.queued == 1 and job_tickets(db, result.job_ids[0]) == [later]
    assert stored_cursor(db, polling)[0] == result.cursor != cursor


def test_export_beyond_one_page_continues_next_run_in_jobs_of_at_most_100(
    db: Session, polling: Polling, client: ZendeskClient, sim: ZendeskSimulator
) -> None:
    ids = new_tickets(sim, 1050)  # the export pages hold 1,000 tickets
    queue = Queue()
    first = poll(db, polling, client, queue, max_pages=1)
    assert (first.tickets_seen, first.queued, first.end_of_stream) == (1000, 1000, False)
    assert [len(job_tickets(db, job_id)) for job_id in first.job_ids] == [100] * 10
    assert stored_cursor(db, polling)[0] == first.cursor
    second = poll(db, polling, client, queue, max_pages=1)
    assert (second.tickets_seen, second.queued, second.end_of_stream) == (50, 50, True)
    assert [len(job_tickets(db, job_id)) for job_id in second.job_ids] == [50]
    queued = [t for job_id in queue.job_ids for t in job_tickets(db, job_id)]
    assert sorted(queued) == sorted(ids)


def test_end_of_stream_with_nothing_new_keeps_the_cursor(
    db: Session, polling: Polling, client: ZendeskClient, sim: ZendeskSimulator
) -> None:
    new_tickets(sim, 1)
    first = poll(db, polling, client, Queue())
    again = poll(db, polling, client, Queue())
    assert (again.pages, again.tickets_seen, again.end_of_stream) == (1, 0, True)
    assert stored_cursor(db, polling)[0] == first.cursor


def test_changes_we_wrote_are_skipped_and_real_changes_queued(
    db: Session,
    polling: Polling,
    client: ZendeskClient,
    sim: ZendeskSimulator,
    empty_zendesk: ZendeskServer,
) -> None:
    ours, edited, untouched_new = new_tickets(sim, 3)
    for ticket_id in (ours, edited):
        mark_processed(db, polling.user, sim.ticket(ticket_id))
    # Our write-back: tags and a private note (updated_at moves on).
    client.add_tags_and_note(ours, ["ai_category_bug", "ai_urgency_medium"], "AI triage: note")
    # An agent rewrites the subject of the other one: what the analysis reads changed.
    agent_update(empty_zendesk, edited, {"subject": "Now urgent!"})
    result = poll(db, polling, client, Queue())
    assert result.tickets_seen == 3
    (job_id,) = result.job_ids
    # Export order follows updated_at (whole seconds): the edit may land in a later second.
    assert sorted(job_tickets(db, job_id)) == [edited, untouched_new]


def test_status_changes_and_comments_do_not_requeue(
    db: Session,
    polling: Polling,
    client: ZendeskClient,
    sim: ZendeskSimulator,
    empty_zendesk: ZendeskServer,
) -> None:
    (ticket_id,) = new_tickets(sim, 1)
    mark_processed(db, polling.user, sim.ticket(ticket_id))
    agent_update(
        empty_zendesk,
        ticket_id,
        {"status": "open", "comment": {"body": "We are on it", "public": True}},
    )
    result = poll(db, polling, client, Queue())
    assert result.tickets_seen == 1 and result.job_ids == []


def test_tickets_waiting_in_a_queued_job_are_not_queued_twice(
    db: Session, polling: Polling, client: ZendeskClient, sim: ZendeskSimulator
) -> None:
    new_tickets(sim, 2)
    poll(db, polling, client, Queue())
    db.execute(
        IntegrationSettings.__table__.update()
        .where(IntegrationSettings.id == polling.integration_id)
        .values(polling_cursor=None)
    )
    again = poll(db, polling, client, Queue())  # the same page read once more
    assert again.tickets_seen == 2 and again.job_ids == []


def test_queue_down_at_commit_keeps_the_jobs_and_the_cursor_moves_on(
    db: Session, polling: Polling, client: ZendeskClient, sim: ZendeskSimulator
) -> None:
    new_tickets(sim, 2)
    result = poll(db, polling, client, Queue(down=True))
    assert result.queued == 2 and stored_cursor(db, polling)[0] is not None
    (job,) = db.scalars(select(BatchJob).where(BatchJob.user_id == polling.user.id)).all()
    assert job.state == "queued"  # the stalled-job sweep sends it once the broker is back
    assert poll(db, polling, client, Queue()).queued == 0  # the same page is not queued twice


class CursorMovedDuringExport:
    """A Zendesk client whose export returns while another run moves the stored cursor."""

    def __init__(self, client: ZendeskClient, db: Session, polling: Polling) -> None:
        self.client, self.db, self.polling = client, db, polling

    def incremental_export(self, **kwargs: object) -> tuple[list[dict], str | None, bool]:
        page = self.client.incremental_export(**kwargs)  # type: ignore[arg-type]
        self.db.execute(
            IntegrationSettings.__table__.update()
            .where(IntegrationSettings.id == self.polling.integration_id)
            .values(polling_cursor="moved-by-another-run")
        )
        return page


def test_a_run_that_lost_the_cursor_race_adds_nothing_and_leaves_the_rollback_to_the_owner(
    db: Session, polling: Polling, client: ZendeskClient, sim: ZendeskSimulator
) -> None:
    new_tickets(sim, 2)
    rollbacks: list[object] = []

    def count(session: Session, previous: object) -> None:
        rollbacks.append(previous)

    event.listen(db, "after_soft_rollback", count)
    try:
        result = intake_polling.poll_integration(
            uow=UnitOfWork(db, Queue()),
            integration_id=polling.integration_id,
            client=CursorMovedDuringExport(client, db, polling),  # type: ignore[arg-type]
        )
    finally:
        event.remove(db, "after_soft_rollback", count)
    assert result.stopped == "the cursor changed during the run"
    assert result.job_ids == [] and rollbacks == []  # the service never rolls back
    assert stored_cursor(db, polling)[0] == "moved-by-another-run"
    assert db.scalars(select(BatchJob).where(BatchJob.user_id == polling.user.id)).all() == []


def test_polling_off_does_nothing(
    db: Session, polling: Polling, client: ZendeskClient, sim: ZendeskSimulator
) -> None:
    integrations.update(db=db, user_id=polling.user.id, changes={"polling_enabled": False})
    new_tickets(sim, 1)
    result = poll(db, polling, client, Queue())
    assert result.pages == 0 and result.stopped == "polling is off"
    assert export_calls(sim) == []


def test_due_integrations_are_claimed_once_per_interval(db: Session, polling: Polling) -> None:
    now = utcnow()
    assert polling.integration_id in intake_polling.claim_due_integrations(db=db, now=now)
    soon = now + timedelta(seconds=30)
    assert polling.integration_id not in intake_polling.claim_due_integrations(db=db, now=soon)
    later = now + timedelta(seconds=61)
    assert polling.integration_id in intake_polling.claim_due_integrations(db=db, now=later)
    integrations.update(db=db, user_id=polling.user.id, changes={"polling_enabled": False})
    much_later = now + timedelta(hours=1)
    assert polling.integration_id not in intake_polling.claim_due_integrations(
        db=db, now=much_later
    )


# --- webhook delivery retention -----------------------------------------------------------


def test_prune_deliveries_deletes_only_rows_past_retention(db: Session, polling: Polling) -> None:
    now = utcnow()
    ages = {"fresh": timedelta(hours=1), "edge": timedelta(days=13, hours=23)}
    ages |= {f"old-{n}": timedelta(days=15 + n) for n in range(5)}
    for n, (invocation, age) in enumerate(ages.items()):
        db.add(
            WebhookDelivery(
                integration_id=polling.integration_id,
                user_id=polling.user.id,
                invocation_id=invocation,
                zendesk_ticket_id=1000 + n,
                status="queued",
                received_at=now - age,
            )
        )
    db.flush()

    chunks = [intake_polling.prune_deliveries(db=db, now=now, chunk_size=2) for _ in range(4)]

    assert chunks == [2, 2, 1, 0]  # a chunk per call: the task commits each one
    kept = db.scalars(
        select(WebhookDelivery.invocation_id).where(WebhookDelivery.user_id == polling.user.id)
    ).all()
    assert sorted(kept) == ["edge", "fresh"]
    assert intake_polling.prune_deliveries(db=db, now=now) == 0


def test_prune_task_is_on_the_beat_schedule() -> None:
    from app.intake.tasks import celery_app

    entry = celery_app.conf.beat_schedule["triage.prune_webhook_deliveries"]
    assert entry["task"] in celery_app.tasks


# --- webhook helpers -----------------------------------------------------------------------


def test_signature_matches_zendesk_scheme() -> None:
    body, timestamp = b'{"ticket_id":"1"}', "2026-11-25T10:00:00Z"
    signature = sign_webhook("secret", timestamp, body)
    assert webhook_payloads.sign(secret="secret", timestamp=timestamp, raw_body=body) == signature
    assert webhook_payloads.signature_matches(
        secret="secret", timestamp=timestamp, raw_body=body, signature=f" {signature} "
    )
    assert not webhook_payloads.signature_matches(
        secret="secret", timestamp=timestamp, raw_body=body + b" ", signature=signature
    )


NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
TEN_MINUTES_AGO = iso_utc(NOW - timedelta(minutes=10))


@pytest.mark.parametrize(
    ("timestamp", "signed", "code"),
    [
        (TEN_MINUTES_AGO, False, "invalid_signature"),  # the signature is checked first
        (TEN_MINUTES_AGO, True, "stale_signature"),
        ("1732550000", True, "invalid_timestamp"),  # epoch seconds, not ISO-8601
        ("1732550000", False, "invalid_signature"),
    ],
)
def test_authenticate_checks_signature_before_the_timestamp(
    timestamp: str, signed: bool, code: str
) -> None:
    body = b"{}"
    signature = sign_webhook("s", timestamp, body) if signed else "AAAA"
    with pytest.raises(Unauthorized) as refused:
        webhook_payloads.authenticate(
            secret="s",
            headers=WebhookHeaders(signature=signature, timestamp=timestamp),
            raw_body=body,
            now=NOW,
        )
    assert refused.value.code == code


def test_payload_event_key_prefers_the_event_id() -> None:
    event = webhook_payloads.parse_payload(
        b'{"type": "zen:event-type:ticket.created", "id": "e-1",'
        b' "detail": {"id": "7", "updated_at": "2026-11-25T10:00:00Z"}}'
    )
    assert (event.zendesk_ticket_id, event.event_key) == (7, "event:e-1")
    trigger = webhook_payloads.parse_payload(
        b'{"ticket_id": "7", "updated_at": "2026-11-25T10:00:00Z"}'
    )
    assert trigger.event_key == "updated:2026-11-25T10:00:00+00:00"
    assert webhook_payloads.parse_payload(b'{"ticket_id": 7}').event_key is None


def test_an_event_id_is_never_read_as_a_ticket_id() -> None:
    with pytest.raises(Unprocessable):
        webhook_payloads.parse_payload(b'{"type": "zen:event-type:ticket.created", "id": "123"}')
    trigger = webhook_payloads.parse_payload(b'{"id": "123", "type": "Question"}')
    assert (trigger.zendesk_ticket_id, trigger.event_type) == (123, None)


def test_ticket_id_must_be_a_positive_integer() -> None:
    assert webhook_payloads.ticket_id_of("0042") == 42
    assert webhook_payloads.ticket_id_of(str(2**53)) == 2**53  # the cap every route shares
    for bad in ("", "4 2", "٤٢", 0, -1, 2**53 + 1, str(2**53 + 1), 2**63, True, 4.0, None, [1]):
        with pytest.raises(Unprocessable):
            webhook_payloads.ticket_id_of(bad)
