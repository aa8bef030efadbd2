"""The Batch API path over HTTP with the official SDK: the simulator's endpoints, then
defer → submit → poll → apply once, with tags and notes written back to Zendesk."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import openai
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import integrations
from app.analysis import learning
from app.analysis.cascade import BATCH_PENDING
from app.batch import llm_batch, llm_submit
from app.config import get_settings
from app.database import session_scope
from app.integrations.llm import response_format_schema
from app.integrations.llm.pricing import cost_usd
from app.integrations.zendesk import ZendeskClient
from app.models import LLMBatch, LLMBatchRequest, Ticket, TicketAnalysis, User, utcnow
from app.pipeline import analysis as analysis_service
from app.pipeline import store as ticket_store
from app.unit_of_work import UnitOfWork
from sandbox.openai_sim import OpenAISimulator
from sandbox.zendesk import ZendeskSimulator
from tests.factories import UserFactory, configure_zendesk

NON_URGENT = [
    (
        "Feature request: dark mode",
        "It would be great if the dashboard had a dark mode option. Just an idea.",
    ),
    ("Invoice question", "Hello, could you send me a copy of last month's invoice? Thanks."),
    (
        "Question about exporting reports",
        "How do I export my reports to CSV? I could not find it in the documentation.",
    ),
]
MICRO_DOLLAR = Decimal("0.000001")
URGENT = (
    "Production outage: our website is down for all users",
    "Our website has been down for everyone since 9am. Customers cannot check out. Urgent!",
)


def _line(custom_id: str, text: str) -> str:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"<ticket>\n{text}\n</ticket>"}],
        "response_format": response_format_schema(),
    }
    request = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions"}
    return json.dumps({**request, "body": body})


def test_simulator_runs_a_batch_for_the_official_sdk(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    payload = "\n".join(_line(f"r{n}", f"Refund {n}: charged twice") for n in range(6))
    uploaded = openai_client.files.create(
        file=("requests.jsonl", payload.encode(), "application/jsonl"), purpose="batch"
    )
    assert uploaded.purpose == "batch" and uploaded.bytes == len(payload.encode())
    openai_sim.fail_next(1, "500")  # the first line processed fails
    created = openai_client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert created.status == "validating"
    done = openai_client.batches.retrieve(created.id)
    assert done.status == "completed"
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (5, 1)
    assert done.output_file_id is not None and done.error_file_id is not None
    output = [
        json.loads(line)
        for line in openai_client.files.content(done.output_file_id).text.splitlines()
    ]
    assert {line["custom_id"] for line in output} == {f"r{n}" for n in range(1, 6)}
    assert all(line["response"]["status_code"] == 200 for line in output)
    assert output[0]["response"]["body"]["object"] == "chat.completion"
    errors = openai_client.files.content(done.error_file_id).text.splitlines()
    assert json.loads(errors[0])["response"]["status_code"] == 500


def test_simulator_batch_waits_for_its_delay_and_rejects_bad_input(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    openai_sim.batch_delay_s = 3600
    good = openai_client.files.create(
        file=("ok.jsonl", _line("a", "hello").encode(), "application/jsonl"), purpose="batch"
    )
    batch = openai_client.batches.create(
        input_file_id=good.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert openai_client.batches.retrieve(batch.id).status == "in_progress"
    duplicate = "\n".join([_line("same", "one"), _line("same", "two")])
    bad = openai_client.files.create(
        file=("bad.jsonl", duplicate.encode(), "application/jsonl"), purpose="batch"
    )
    failed = openai_client.batches.retrieve(
        openai_client.batches.create(
            input_file_id=bad.id, endpoint="/v1/chat/completions", completion_window="24h"
        ).id
    )
    assert failed.status == "failed"
    assert failed.errors is not None and failed.errors.data
    assert failed.errors.data[0].code == "duplicate_custom_id"


@pytest.fixture
def account(
    db: Session,
    users: UserFactory,
    zendesk_url: str,
    openai_base_url: str,
    openai_api_key: str,
) -> User:
    user = users.create()
    configure_zendesk(
        db, user, zendesk_url, openai_api_key=openai_api_key, openai_base_url=openai_base_url
    )
    learning.update_settings(db=db, user_id=user.id, use_llm_batch_api=True)
    return user


def _analyse(
    db: Session, user: User, zendesk_client: ZendeskClient, zendesk_ticket_id: int
) -> TicketAnalysis:
    """What processing a ticket does with the user's cascade context (no write-back)."""
    integration = integrations.resolve(db=db, user_id=user.id)
    ticket = ticket_store.upsert_ticket(
        db=db, user_id=user.id, raw=zendesk_client.get_ticket(zendesk_ticket_id)
    )
    assert integration.llm is not None
    outcome = analysis_service.analyze(
        ticket.subject,
        ticket.description,
        options=integration.options,
        llm=analysis_service.build_llm_analyzer(integration.llm, integration.options),
        user_id=user.id,
        db=db,
    )
    return ticket_store.save_analysis(db=db, ticket=ticket, outcome=outcome, processing_time_ms=1)


def _our_notes(zendesk_sim: ZendeskSimulator, zendesk_ticket_id: int) -> list[dict]:
    return [
        comment
        for comment in zendesk_sim.ticket_comments(zendesk_ticket_id)
        if not comment.get("public", True) and comment["body"].startswith("AI triage")
    ]


def test_non_urgent_tickets_go_through_the_batch_api_and_are_applied_once(
    db: Session,
    account: User,
    zendesk_sim: ZendeskSimulator,
    zendesk_client: ZendeskClient,
    openai_sim: OpenAISimulator,
) -> None:
    created = [zendesk_sim.create_ticket(subject, body)["id"] for subject, body in NON_URGENT]
    for zendesk_id in created:
        provisional = _analyse(db, account, zendesk_client, zendesk_id)
        assert provisional.source == "local" and provisional.cost_usd == 0
        assert provisional.decision_reason.endswith(BATCH_PENDING)
        assert provisional.route == "batch_pending"
    assert openai_sim.chat_requests() == []  # nothing synchronous

    submitted = llm_submit.submit_pending(uow=UnitOfWork(db), user_id=account.id)
    assert submitted.requests == 3 and submitted.openai_batch_id
    batch = db.get(LLMBatch, submitted.batch_id)
    assert batch is not None and batch.state == "submitted"
    upload = openai_sim.file(str(batch.input_file_id))
    assert upload is not None and upload.purpose == "batch"
    lines = [json.loads(line) for line in upload.data.decode().splitlines()]
    assert {line["url"] for line in lines} == {"/v1/chat/completions"}
    assert all(line["body"]["response_format"] == response_format_schema() for line in lines)
    assert all(line["body"]["prompt_cache_key"] for line in lines)
    # Nothing pending is submitted twice.
    assert llm_submit.submit_pending(uow=UnitOfWork(db), user_id=account.id).requests == 0

    assert llm_batch.poll_batch(uow=UnitOfWork(db), batch_id=batch.id) == "applied"
    requests = db.scalars(select(LLMBatchRequest).where(LLMBatchRequest.batch_id == batch.id))
    for request in requests:
        assert request.state == "applied"
        analysis = ticket_store.get_analysis(db=db, ticket_id=request.ticket_id)
        assert analysis is not None and analysis.source == "batch"
        assert analysis.decision_reason.endswith("→ llm batch")
        assert analysis.route == "batch"
        full_price = cost_usd(
            "gpt-4o-mini",
            analysis.input_tokens,
            analysis.cached_input_tokens,
            analysis.output_tokens,
        )
        assert full_price > 0 and analysis.input_tokens > 0
        # Stored as Numeric(14, 6): half the list price, to the micro-dollar.
        assert abs(analysis.cost_usd - full_price / 2) <= MICRO_DOLLAR
        assert request.cost_usd == analysis.cost_usd
        ticket = db.get(Ticket, request.ticket_id)
        assert ticket is not None
        tags = zendesk_sim.ticket(ticket.zendesk_ticket_id)["tags"]
        assert f"ai_category_{analysis.category}" in tags
        [note] = _our_notes(zendesk_sim, ticket.zendesk_ticket_id)
        assert analysis.summary[:40] in note["body"]

    snapshot = {
        analysis.id: (analysis.cost_usd, analysis.updated_at)
        for analysis in db.scalars(
            select(TicketAnalysis).where(TicketAnalysis.user_id == account.id)
        )
    }
    again = llm_batch.apply_batch(uow=UnitOfWork(db), batch_id=batch.id)
    assert again.already_applied and again.applied == 0
    assert llm_batch.poll_batch(uow=UnitOfWork(db), batch_id=batch.id) == "applied"
    db.expire_all()
    assert snapshot == {
        analysis.id: (analysis.cost_usd, analysis.updated_at)
        for analysis in db.scalars(
            select(TicketAnalysis).where(TicketAnalysis.user_id == account.id)
        )
    }
    for zendesk_id in created:
        assert len(_our_notes(zendesk_sim, zendesk_id)) == 1


def test_urgent_tickets_skip_the_batch_api(
    db: Session,
    account: User,
    zendesk_sim: ZendeskSimulator,
    zendesk_client: ZendeskClient,
    openai_sim: OpenAISimulator,
) -> None:
    zendesk_id = zendesk_sim.create_ticket(*URGENT)["id"]
    analysis = _analyse(db, account, zendesk_client, zendesk_id)
    assert analysis.source == "llm" and BATCH_PENDING not in (analysis.decision_reason or "")
    assert len(openai_sim.chat_requests()) == 1


def test_unfinished_batch_is_left_alone_and_a_failed_line_keeps_the_offline_answer(
    db: Session,
    account: User,
    zendesk_sim: ZendeskSimulator,
    zendesk_client: ZendeskClient,
    openai_sim: OpenAISimulator,
) -> None:
    for subject, body in NON_URGENT[:2]:
        _analyse(db, account, zendesk_client, zendesk_sim.create_ticket(subject, body)["id"])
    openai_sim.batch_delay_s = 3600
    submitted = llm_submit.submit_pending(uow=UnitOfWork(db), user_id=account.id)
    assert submitted.batch_id is not None
    assert llm_batch.poll_batch(uow=UnitOfWork(db), batch_id=submitted.batch_id) == "submitted"
    batch = db.get(LLMBatch, submitted.batch_id)
    assert batch is not None and batch.status == "in_progress"

    openai_sim.batch_delay_s = 0
    openai_sim.fail_next(1, "500")
    assert llm_batch.poll_batch(uow=UnitOfWork(db), batch_id=submitted.batch_id) == "applied"
    states = sorted(
        request.state
        for request in db.scalars(
            select(LLMBatchRequest).where(LLMBatchRequest.batch_id == submitted.batch_id)
        )
    )
    assert states == ["applied", "failed"]
    kept = db.scalar(
        select(TicketAnalysis).where(
            TicketAnalysis.user_id == account.id, TicketAnalysis.source == "local"
        )
    )
    assert kept is not None and kept.decision_reason.endswith("→ llm batch failed (upstream)")
    assert kept.route == "batch_failed"
    assert (
        llm_submit.submit_pending(uow=UnitOfWork(db), user_id=account.id).requests == 0
    )  # not retried


def test_one_users_unusable_settings_do_not_stop_the_others_batches(
    committed_user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with session_scope() as db:
        integrations.update(
            db=db,
            user_id=committed_user.id,
            changes={
                "openai_api_key": "sk-test-0123456789",
                "openai_base_url": "http://10.0.0.9/v1",
            },
        )
        learning.update_settings(db=db, user_id=committed_user.id, use_llm_batch_api=True)
    monkeypatch.setattr(get_settings(), "allow_private_upstreams", False)  # as in production
    assert llm_submit.submit_all_pending() == {"batches": 0, "requests": 0}
    assert f"submitting a batch for user {committed_user.id} failed" in caplog.text
    assert "private or local address" in caplog.text


def _planned_batch(db: Session, user: User, age: timedelta) -> LLMBatch:
    """A batch as a crash between the plan and the record leaves it: committed with its
    requests, no upstream id."""
    waiting = llm_submit.pending(db=db, user_id=user.id, limit=100)
    planned_at = utcnow() - age
    batch = LLMBatch(
        user_id=user.id,
        model="gpt-4o-mini",
        state="submitted",
        request_count=len(waiting),
        created_at=planned_at,
        updated_at=planned_at,
    )
    db.add(batch)
    db.flush()
    for _, ticket in waiting:
        db.add(
            LLMBatchRequest(
                batch_id=batch.id,
                user_id=user.id,
                ticket_id=ticket.id,
                custom_id=f"triage-{batch.id}-{ticket.id}",
                state="submitted",
            )
        )
    db.flush()
    return batch


def _uploads(openai_sim: OpenAISimulator) -> list[str]:
    return [call.path for call in openai_sim.calls if call.path.startswith("/v1/files")]


def test_a_batch_a_crash_left_unsent_is_uploaded_again_by_the_sweep_and_applied(
    db: Session,
    account: User,
    zendesk_sim: ZendeskSimulator,
    zendesk_client: ZendeskClient,
    openai_sim: OpenAISimulator,
) -> None:
    for subject, body in NON_URGENT:
        _analyse(db, account, zendesk_client, zendesk_sim.create_ticket(subject, body)["id"])
    batch = _planned_batch(db, account, age=llm_submit.RESEND_AFTER + timedelta(minutes=1))
    batch_id = batch.id
    assert llm_submit.pending(db=db, user_id=account.id, limit=100) == []  # claimed
    assert llm_batch.poll_batch(uow=UnitOfWork(db), batch_id=batch_id) == "submitted"

    assert llm_submit.resume_unsent(uow=UnitOfWork(db), batch_id=batch_id)
    batch = db.get_one(LLMBatch, batch_id)
    assert batch.openai_batch_id and batch.input_file_id and batch.request_count == 3
    upload = openai_sim.file(batch.input_file_id)
    assert upload is not None
    custom_ids = {json.loads(line)["custom_id"] for line in upload.data.decode().splitlines()}
    assert custom_ids == {
        request.custom_id
        for request in db.scalars(
            select(LLMBatchRequest).where(LLMBatchRequest.batch_id == batch_id)
        )
    }
    assert not llm_submit.resume_unsent(uow=UnitOfWork(db), batch_id=batch_id)  # recorded
    assert llm_batch.poll_batch(uow=UnitOfWork(db), batch_id=batch_id) == "applied"


def test_a_batch_still_in_its_upload_is_not_sent_twice(
    db: Session,
    account: User,
    zendesk_sim: ZendeskSimulator,
    zendesk_client: ZendeskClient,
    openai_sim: OpenAISimulator,
) -> None:
    _analyse(db, account, zendesk_client, zendesk_sim.create_ticket(*NON_URGENT[0])["id"])
    batch = _planned_batch(db, account, age=timedelta(seconds=5))
    assert not llm_submit.resume_unsent(uow=UnitOfWork(db), batch_id=batch.id)
    assert _uploads(openai_sim) == []
    assert db.get_one(LLMBatch, batch.id).openai_batch_id is None


def test_a_failed_upload_gives_the_tickets_back_to_the_next_run(
    db: Session,
    account: User,
    zendesk_sim: ZendeskSimulator,
    zendesk_client: ZendeskClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for subject, body in NON_URGENT[:2]:
        _analyse(db, account, zendesk_client, zendesk_sim.create_ticket(subject, body)["id"])
    monkeypatch.setattr(get_settings(), "llm_max_retries", 0)
    integrations.update(
        db=db, user_id=account.id, changes={"openai_base_url": "http://127.0.0.1:9/v1"}
    )
    with pytest.raises(llm_batch.LLMBatchError):
        llm_submit.submit_pending(uow=UnitOfWork(db), user_id=account.id)
    assert db.scalars(select(LLMBatch).where(LLMBatch.user_id == account.id)).all() == []
    assert len(llm_submit.pending(db=db, user_id=account.id, limit=100)) == 2
