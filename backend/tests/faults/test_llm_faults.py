"""LLM faults in batch jobs (malformed JSON, 5xx, timeouts, an endpoint that is down): each
ticket falls back to the offline analyzer on its own, the cause is logged and counted, and
the job still succeeds with every ticket analysed exactly once.

The single-ticket path is covered in tests/api/test_tickets_process.py."""

from __future__ import annotations

import logging
import time

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, select

from app.accounts import integrations
from app.batch import runner as batch_runner
from app.config import get_settings
from app.database import session_scope
from app.models import ProcessingLog, TicketAnalysis, User
from sandbox.openai_sim import OpenAISimulator
from sandbox.zendesk import ZendeskSimulator
from tests.factories import open_ticket_ids, run_batch_in_process
from tests.worker.conftest import count

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def fast_failing_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "llm_max_retries", 0)
    monkeypatch.setattr(get_settings(), "llm_timeout_s", 1.0)


def use_llm(user: User, base_url: str, api_key: str) -> None:
    with session_scope() as db:
        integrations.update(
            db=db,
            user_id=user.id,
            changes={"openai_api_key": api_key, "openai_base_url": base_url},
        )


def llm_errors(kind: str) -> float:
    value = REGISTRY.get_sample_value(
        "triage_upstream_errors_total", {"upstream": "llm", "kind": kind}
    )
    return value or 0.0


@pytest.mark.usefixtures("fast_failing_llm")
def test_batch_falls_back_per_ticket_and_logs_each_cause(
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    openai_sim: OpenAISimulator,
    openai_base_url: str,
    openai_api_key: str,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_llm(committed_user, openai_base_url, openai_api_key)
    for fault in ("500", "malformed", "timeout", "schema"):
        openai_sim.fail_next(1, fault)  # the first four model calls fail, one way each
    ids = open_ticket_ids(zendesk_sim, 10)
    timeouts_before = llm_errors("timeout")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        job = run_batch_in_process(committed_user, ids)
    assert time.monotonic() - started < 15
    assert job.state == "succeeded"
    assert (job.done, job.failed) == (10, 0)
    with session_scope() as db:
        sources = db.scalars(
            select(TicketAnalysis.source).where(TicketAnalysis.user_id == committed_user.id)
        ).all()
        analyze_logs = db.scalars(
            select(ProcessingLog).where(
                ProcessingLog.job_id == job.id, ProcessingLog.step == "analyze"
            )
        ).all()
    assert sorted(source.value for source in sources) == ["fallback"] * 4 + ["llm"] * 6
    fallbacks = [log.message or "" for log in analyze_logs if log.status == "fallback"]
    assert len(fallbacks) == 4
    causes = sorted(message.split("error=", 1)[1].split(":", 1)[0] for message in fallbacks)
    assert causes == ["malformed", "malformed", "timeout", "upstream"]
    assert "LLM analysis failed (timeout)" in caplog.text
    assert llm_errors("timeout") == timeouts_before + 1
    user = committed_user.id
    assert count(engine, "SELECT count(*) FROM ticket_analyses WHERE user_id = :u", u=user) == 10


@pytest.mark.usefixtures("fast_failing_llm")
def test_batch_with_the_llm_endpoint_down_is_analysed_offline_and_rerun_changes_nothing(
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    openai_api_key: str,
    engine: Engine,
) -> None:
    use_llm(committed_user, "http://127.0.0.1:9/v1", openai_api_key)  # nothing listens
    ids = open_ticket_ids(zendesk_sim, 6)
    job = run_batch_in_process(committed_user, ids)
    assert job.state == "succeeded"
    user = committed_user.id
    sql = "SELECT count(*) FROM ticket_analyses WHERE user_id = :u AND source = 'fallback'"
    assert count(engine, sql, u=user) == 6
    batch_runner.run_job(job.id, worker_id="late-duplicate")  # a redelivered task
    assert count(engine, "SELECT count(*) FROM ticket_analyses WHERE user_id = :u", u=user) == 6
    assert count(engine, "SELECT count(*) FROM tickets WHERE user_id = :u", u=user) == 6
    notes = [
        comment
        for ticket_id in ids
        for comment in zendesk_sim.ticket_comments(ticket_id)
        if "AI triage" in comment.get("body", "")
    ]
    assert len(notes) == 6
