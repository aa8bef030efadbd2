"""Automatic intake end to end: the Zendesk simulator sends signed webhooks over HTTP to the
app served by uvicorn, a real Celery worker on Redis processes the ticket and writes tags
and a note back to the simulator. Polling runs through a worker importing app.intake.tasks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from app.accounts import integrations
from app.config import BACKEND_DIR
from app.database import session_scope
from app.main import create_app
from app.models import User
from app.worker import celery_app
from sandbox.serve import serve_in_thread
from sandbox.zendesk import ZendeskSimulator
from tests.worker.conftest import count, sender_to, wait_for

pytestmark = pytest.mark.postgres_only

SECRET = "whsec-e2e-0123456789abcdef"
MAX_INTAKE_LATENCY_S = 3.0


def triaged(sim: ZendeskSimulator, ticket_id: int) -> bool:
    return any(tag.startswith("ai_category_") for tag in sim.ticket(ticket_id)["tags"])


def our_notes(sim: ZendeskSimulator, ticket_id: int) -> list[dict]:
    return [
        comment
        for comment in sim.ticket_comments(ticket_id)
        if not comment.get("public", True) and "AI triage" in comment.get("body", "")
    ]


@pytest.fixture
def webhook_url(committed_user: User, redis_broker: str) -> Iterator[str]:
    """The app on a real port (the simulator posts to it), with the signing secret set."""
    with session_scope() as db:
        row = integrations.update(
            db=db, user_id=committed_user.id, changes={"zendesk_webhook_secret": SECRET}
        )
        public_id = row.public_id
    app = create_app()
    app.state.job_sender = sender_to(redis_broker)
    with serve_in_thread(app) as api_url:
        httpx.get(f"{api_url}/health/ready")  # a running service has warm connection pools
        yield f"{api_url}/webhooks/zendesk/{public_id}"


@pytest.fixture(scope="module")
def intake_worker(
    redis_broker: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[subprocess.Popen[bytes]]:
    """One real worker for this module that also imports app.intake.tasks (`-I`), as the
    deployed worker does."""
    log_path = tmp_path_factory.mktemp("intake-worker") / "worker.log"
    env = {
        **os.environ,
        "REDIS_URL": redis_broker,
        "CELERY_VISIBILITY_TIMEOUT_S": "5",
        "BATCH_LEASE_S": "3",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "app.worker",
                "worker",
                "-I",
                "app.intake.tasks",
                "--pool",
                "solo",
                "--loglevel",
                "info",
                "--hostname",
                "intake@test",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BACKEND_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while b"ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.1)
        registered = log_path.read_text(errors="replace")
        assert "triage.poll_zendesk" in registered
        assert "triage.poll_due_integrations" in registered
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_new_ticket_is_triaged_through_a_signed_webhook_within_3_s(
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    webhook_url: str,
    intake_worker: subprocess.Popen[bytes],
    engine: Engine,
) -> None:
    zendesk_sim.add_webhook(webhook_url, SECRET)  # trigger "Ticket is Created", default body
    started = time.perf_counter()
    ticket = zendesk_sim.create_ticket(
        "Charged twice for my subscription",
        "Hello, my card was charged twice this month for the same plan. Please refund one.",
    )
    wait_for(lambda: triaged(zendesk_sim, ticket["id"]), timeout_s=30, every_s=0.01)
    latency_s = time.perf_counter() - started
    (delivery,) = zendesk_sim.wait_for_webhooks(1)
    print(f"intake_latency_s={latency_s:.2f} webhook_ack_ms={delivery.duration_ms:.1f}")
    assert delivery.status_code == 202
    assert latency_s <= MAX_INTAKE_LATENCY_S
    wait_for(lambda: our_notes(zendesk_sim, ticket["id"]))
    assert len(our_notes(zendesk_sim, ticket["id"])) == 1
    user = committed_user.id
    assert count(engine, "SELECT count(*) FROM batch_jobs WHERE user_id = :u", u=user) == 1
    assert (
        count(
            engine,
            "SELECT count(*) FROM batch_jobs WHERE user_id = :u AND origin = 'webhook'",
            u=user,
        )
        == 1
    )


def test_duplicates_and_our_own_updates_are_processed_once(
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    webhook_url: str,
    intake_worker: subprocess.Popen[bytes],
    engine: Engine,
) -> None:
    """Every delivery arrives twice (a retry with the same invocation id, and a trigger on
    updates too); our own tags and note fire "updated" webhooks that must not loop."""
    zendesk_sim.add_webhook(
        webhook_url,
        SECRET,
        events=("ticket.created", "ticket.updated"),
        body_template={"ticket_id": "{{ticket.id}}", "updated_at": "{{ticket.updated_at}}"},
        duplicates=1,
    )
    zendesk_sim.add_webhook(
        webhook_url,
        SECRET,
        payload="event",
        events=("ticket.created", "ticket.updated"),
        duplicates=1,
        duplicate_mode="new_invocation",
    )
    ticket_id = zendesk_sim.create_ticket(
        "App crashes on login", "Since the update the app crashes whenever I log in."
    )["id"]
    wait_for(lambda: triaged(zendesk_sim, ticket_id) and our_notes(zendesk_sim, ticket_id))
    # created: 2 webhooks x 2 copies; our write-back: trigger x 2 + tags and comment events x 2
    attempts = zendesk_sim.wait_for_webhooks(10)
    assert all(attempt.status_code in (200, 202) for attempt in attempts), attempts
    time.sleep(0.5)  # anything wrongly queued by the late deliveries would run now
    user = committed_user.id
    assert count(engine, "SELECT count(*) FROM batch_jobs WHERE user_id = :u", u=user) == 1
    assert len(our_notes(zendesk_sim, ticket_id)) == 1
    queued = count(
        engine,
        "SELECT count(*) FROM webhook_deliveries WHERE user_id = :u AND status = 'queued'",
        u=user,
    )
    assert queued == 1
    assert sum(1 for a in attempts if a.status_code == 202) == 1


def test_polling_through_the_beat_dispatcher_triages_new_tickets(
    redis_broker: str,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    intake_worker: subprocess.Popen[bytes],
    engine: Engine,
) -> None:
    with session_scope() as db:
        integrations.update(
            db=db,
            user_id=committed_user.id,
            changes={"polling_enabled": True, "polling_interval_s": 60},
        )
    ticket_id = zendesk_sim.create_ticket(
        "Invoice shows the wrong VAT number", "Our invoice for November has an old VAT number."
    )["id"]
    started = time.perf_counter()
    with celery_app.connection_for_write(redis_broker) as connection:
        celery_app.send_task("triage.poll_due_integrations", connection=connection)
    wait_for(lambda: triaged(zendesk_sim, ticket_id), timeout_s=30, every_s=0.02)
    print(f"poll_intake_latency_s={time.perf_counter() - started:.2f}")
    user = committed_user.id
    assert (
        count(
            engine, "SELECT count(*) FROM batch_jobs WHERE user_id = :u AND origin = 'poll'", u=user
        )
        >= 1
    )
    assert (
        count(
            engine,
            "SELECT count(*) FROM integration_settings WHERE user_id = :u "
            "AND polling_cursor IS NOT NULL AND polling_last_run_at IS NOT NULL",
            u=user,
        )
        == 1
    )
