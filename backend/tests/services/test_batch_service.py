"""Batch jobs run in this process against the Zendesk and OpenAI simulators, as the Celery
task runs them: every analysis they save keeps the daily rollups equal to the raw rows."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time as time_module
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts import integrations
from app.analytics import rollups_write
from app.analytics.rollups import MONEY_QUANTUM
from app.batch import jobs as batch_jobs
from app.batch import runner as batch_runner
from app.database import get_engine, session_scope
from app.enums import AnalysisSource
from app.models import BatchJob, BatchJobItem, ProcessingLog, Ticket, TicketAnalysis, User, utcnow
from sandbox.openai_sim import OpenAISimulator
from sandbox.zendesk import ZendeskSimulator
from tests.factories import open_ticket_ids, run_batch_in_process
from tests.services.test_metrics_rollup import expected_rollups, rollup_rows
from tests.worker.conftest import login
from tests.worker.test_batch_jobs import our_notes

ZONE = "Europe/Berlin"


def stored_rollups(user: User) -> dict[date, dict[str, Any]]:
    with session_scope() as db:
        return rollup_rows(db, user)


def raw_rollups(user: User) -> dict[date, dict[str, Any]]:
    """The rollups the raw analyses imply, grouped by local day here in Python."""
    with session_scope() as db:
        specs = [
            {
                "created_at": analysis.created_at,
                "category": analysis.category.value,
                "urgency": analysis.urgency.value,
                "sentiment": analysis.sentiment.value,
                "source": analysis.source.value,
                "cost_usd": analysis.cost_usd,
                "processing_time_ms": analysis.processing_time_ms,
            }
            for analysis in db.scalars(
                select(TicketAnalysis).where(TicketAnalysis.user_id == user.id)
            )
        ]
    return expected_rollups(specs, ZoneInfo(ZONE))


def rebuilt_rollups(user: User) -> dict[date, dict[str, Any]]:
    """What `rebuild_user` writes, read inside a transaction that is then rolled back."""
    with session_scope() as db:
        rollups_write.rebuild_user(db, user_id=user.id)
        rows = rollup_rows(db, user)
        db.rollback()
    return rows


def cost_tolerance(row: dict[str, Any]) -> Decimal:
    """PostgreSQL rounds each cost to the column's 6 places when storing it; SQLite keeps
    the full value and rounds only when reading, so there a day's SUM may differ from the
    sum of the rounded per-analysis costs by up to half a micro-dollar per analysis."""
    if get_engine().dialect.name == "postgresql":
        return Decimal(0)
    return MONEY_QUANTUM * row["tickets_processed"] / 2


def assert_rollups_exact(user: User) -> dict[date, dict[str, Any]]:
    stored = stored_rollups(user)
    assert stored == rebuilt_rollups(user)
    raw = raw_rollups(user)
    assert stored.keys() == raw.keys()
    for day, row in stored.items():
        assert abs(row["total_cost_usd"] - raw[day]["total_cost_usd"]) <= cost_tolerance(row)
        assert {**row, "total_cost_usd": None} == {**raw[day], "total_cost_usd": None}
    return stored


def test_batch_jobs_keep_the_rollups_exact_including_reanalyses(
    committed_user: User,
    live_client: TestClient,
    zendesk_sim: ZendeskSimulator,
    openai_sim: OpenAISimulator,
    openai_base_url: str,
    openai_api_key: str,
) -> None:
    user = committed_user
    with session_scope() as db:
        stored_user = db.get(User, user.id)
        assert stored_user is not None
        stored_user.timezone = ZONE
    ids = open_ticket_ids(zendesk_sim, 12)
    old_ids, new_ids = ids[:10], ids[10:]

    # 1. Offline analysis (no LLM configured): ten new analyses, free, counted today.
    job = run_batch_in_process(user, old_ids)
    assert (job.state, job.done, job.failed) == ("succeeded", 10, 0)
    rows = assert_rollups_exact(user)
    today = utcnow().astimezone(ZoneInfo(ZONE)).date()
    assert list(rows) == [today]
    assert rows[today]["tickets_processed"] == 10
    assert rows[today]["total_cost_usd"] == Decimal(0)
    assert rows[today]["source_counts"] == {"llm": 0, "local": 10, "fallback": 0, "batch": 0}

    # Those analyses were made on two earlier local days, either side of Berlin's midnight
    # (the same UTC day), and their rollups are up to date.
    two_days_ago, yesterday = today - timedelta(days=2), today - timedelta(days=1)
    late = datetime.combine(two_days_ago, time(23, 30), tzinfo=ZoneInfo(ZONE))
    early = datetime.combine(yesterday, time(0, 30), tzinfo=ZoneInfo(ZONE))
    with session_scope() as db:
        analyses = db.scalars(
            select(TicketAnalysis)
            .join(Ticket, Ticket.id == TicketAnalysis.ticket_id)
            .where(TicketAnalysis.user_id == user.id)
            .order_by(Ticket.zendesk_ticket_id)
        ).all()
        for index, analysis in enumerate(analyses):
            analysis.created_at = late if index < 4 else early
        db.flush()
        rollups_write.rebuild_user(db, user_id=user.id)
    rows = assert_rollups_exact(user)
    assert {day: row["tickets_processed"] for day, row in rows.items()} == {
        two_days_ago: 4,
        yesterday: 6,
    }

    # 2. With the LLM: the ten are re-analysed (local → llm, free → paid) and two are new.
    with session_scope() as db:
        integrations.update(
            db=db,
            user_id=user.id,
            changes={"openai_api_key": openai_api_key, "openai_base_url": openai_base_url},
        )
    job = run_batch_in_process(user, ids)
    assert (job.state, job.done, job.failed) == ("succeeded", 12, 0)
    with session_scope() as db:
        costs = dict(
            db.execute(
                select(ProcessingLog.zendesk_ticket_id, ProcessingLog.cost_usd).where(
                    ProcessingLog.job_id == job.id, ProcessingLog.step == "analyze"
                )
            ).all()
        )
        sources = Counter(
            db.scalars(select(TicketAnalysis.source).where(TicketAnalysis.user_id == user.id))
        )
    assert sources == {AnalysisSource.llm: 12}
    assert sorted(costs) == sorted(ids) and all(cost > 0 for cost in costs.values())

    rows = assert_rollups_exact(user)
    assert {day: row["tickets_processed"] for day, row in rows.items()} == {
        two_days_ago: 4,
        yesterday: 6,
        today: 2,
    }
    for day, tickets in ((two_days_ago, old_ids[:4]), (yesterday, old_ids[4:]), (today, new_ids)):
        assert rows[day]["source_counts"] == {
            "llm": len(tickets),
            "local": 0,
            "fallback": 0,
            "batch": 0,
        }
        expected_cost = sum((costs[ticket] for ticket in tickets), Decimal(0))
        assert abs(rows[day]["total_cost_usd"] - expected_cost) <= cost_tolerance(rows[day])

    # The dashboard in the saved time zone (rollups for past days) agrees with the raw rows.
    headers = login(live_client, user)
    dashboard = live_client.get("/analytics/dashboard", headers=headers).json()
    summary = live_client.get("/tickets/stats/summary", headers=headers).json()
    assert dashboard["tickets"] == summary["analysed_tickets"] == 12
    assert Decimal(dashboard["total_cost_usd"]) == Decimal(summary["total_cost_usd"])
    assert sum(rows[day]["total_cost_usd"] for day in rows) == Decimal(dashboard["total_cost_usd"])
    by_source = {item["label"]: item["count"] for item in dashboard["sources"]["items"]}
    assert by_source == {"llm": 12, "local": 0, "fallback": 0, "batch": 0}


# --- leases ------------------------------------------------------------------------------


def leased_job(user: User, holder: str) -> str:
    """A queued job whose lease another pool process took a moment ago."""
    with session_scope() as db:
        job = batch_jobs.create_job(db=db, user_id=user.id, zendesk_ticket_ids=[1])
        job.lease_owner = holder
        job.lease_expires_at = utcnow() + timedelta(minutes=5)
        return job.id


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # exited and reaped: the pid names no process
    return process.pid


@pytest.mark.parametrize(
    ("holder", "taken_over"),
    [
        pytest.param(lambda: f"node@a/{os.getppid()}", False, id="live-sibling"),
        pytest.param(lambda: f"node@a/{dead_pid()}", True, id="dead-sibling"),
        pytest.param(lambda: f"node@b/{dead_pid()}", False, id="other-node"),
        pytest.param(lambda: "node@a", False, id="older-format"),
    ],
)
def test_a_lease_is_taken_over_only_from_a_dead_process_of_our_own_node(
    committed_user: User, holder: Any, taken_over: bool
) -> None:
    job_id = leased_job(committed_user, holder())
    me = f"node@a/{os.getpid()}"
    if taken_over:
        context = batch_runner.claim(job_id, me)
        assert context is not None and context.worker_id == me
        with session_scope() as db:
            job = db.get(BatchJob, job_id)
            assert job is not None and job.lease_owner == me and job.state == "running"
    else:
        with pytest.raises(batch_jobs.LeaseHeld):
            batch_runner.claim(job_id, me)


# --- overlapping jobs --------------------------------------------------------------------


def test_overlapping_jobs_on_the_same_tickets_post_each_note_once(
    committed_user: User, zendesk_sim: ZendeskSimulator
) -> None:
    ids = open_ticket_ids(zendesk_sim, 4)
    # The tags are there already, so both jobs send the note alone (no safe_update guard).
    with session_scope() as db:
        integrations.update(db=db, user_id=committed_user.id, changes={"write_note": False})
    run_batch_in_process(committed_user, ids)
    with session_scope() as db:
        integrations.update(db=db, user_id=committed_user.id, changes={"write_note": True})
    zendesk_sim.job_delay_s = 2.0  # the first job's bulk update is still being applied...
    jobs_before = len(zendesk_sim.jobs)
    first = threading.Thread(target=run_batch_in_process, args=(committed_user, ids, "a/1"))
    first.start()
    deadline = time_module.monotonic() + 10
    while len(zendesk_sim.jobs) == jobs_before and time_module.monotonic() < deadline:
        time_module.sleep(0.01)
    second = run_batch_in_process(committed_user, ids, "b/1")  # ...when the second writes
    first.join(30)
    assert second.state == "succeeded"
    for ticket_id in ids:
        assert len(our_notes(zendesk_sim, ticket_id)) == 1, ticket_id


def test_a_ticket_that_cannot_be_stored_fails_alone_and_the_others_succeed(
    committed_user: User, zendesk_sim: ZendeskSimulator
) -> None:
    good = open_ticket_ids(zendesk_sim, 3)
    beyond = zendesk_sim.create_ticket("Huge requester", "text", requester_id=2**63)["id"]
    odd = zendesk_sim.create_ticket("Odd \ud800 text\x00", "body \udc00")["id"]
    job = run_batch_in_process(committed_user, [good[0], beyond, good[1], odd, good[2]])
    assert (job.state, job.done, job.failed) == ("partially_failed", 4, 1)
    with session_scope() as db:
        items = {
            item.zendesk_ticket_id: item
            for item in db.scalars(select(BatchJobItem).where(BatchJobItem.job_id == job.id))
        }
    assert items[beyond].status == "failed"
    assert "requester_id" in (items[beyond].error or "") and "64 bits" in items[beyond].error
    assert all(items[zid].status == "done" for zid in [*good, odd])
    assert our_notes(zendesk_sim, beyond) == []
    assert all(len(our_notes(zendesk_sim, zid)) == 1 for zid in [*good, odd])


def test_a_ticket_closed_before_the_bulk_update_applies_fails_alone_with_zendesks_reason(
    committed_user: User, zendesk_sim: ZendeskSimulator
) -> None:
    ids = open_ticket_ids(zendesk_sim, 3)
    zendesk_sim.job_delay_s = 1.0  # the bulk update is applied a second after it is sent
    jobs_before = len(zendesk_sim.jobs)
    outcome: list[BatchJob] = []
    running = threading.Thread(
        target=lambda: outcome.append(run_batch_in_process(committed_user, ids))
    )
    running.start()
    deadline = time_module.monotonic() + 10
    while len(zendesk_sim.jobs) == jobs_before and time_module.monotonic() < deadline:
        time_module.sleep(0.01)
    zendesk_sim.tickets[ids[1]]["status"] = "closed"  # an agent closes it meanwhile
    running.join(30)

    job = outcome[0]
    assert (job.state, job.done, job.failed) == ("partially_failed", 2, 1)
    with session_scope() as db:
        items = {
            item.zendesk_ticket_id: item
            for item in db.scalars(select(BatchJobItem).where(BatchJobItem.job_id == job.id))
        }
        logged = db.scalars(
            select(ProcessingLog).where(
                ProcessingLog.job_id == job.id,
                ProcessingLog.zendesk_ticket_id == ids[1],
                ProcessingLog.step == "write_back",
            )
        ).one()
    closed = items[ids[1]]
    assert closed.status == "failed" and closed.error is not None
    assert closed.error.startswith("write-back failed: RecordInvalid")  # Zendesk's reason
    assert logged.status == "error" and "RecordInvalid" in (logged.message or "")
    assert all(
        items[zid].status == "done" and items[zid].write_back == "written"
        for zid in (ids[0], ids[2])
    )
