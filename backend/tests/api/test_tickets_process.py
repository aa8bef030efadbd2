"""POST /tickets/process over real HTTP against the Zendesk and OpenAI simulators."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import ProcessingLog, Ticket, TicketAnalysis, User
from sandbox.openai_sim import OpenAISimulator
from sandbox.zendesk import ZendeskSimulator
from tests.factories import UserFactory, configure_zendesk

TICKET = 1  # a seeded sandbox ticket


@pytest.fixture
def account(users: UserFactory, db: Session, zendesk_url: str) -> tuple[User, dict[str, str]]:
    user, headers = users.authed()
    configure_zendesk(db, user, zendesk_url)
    return user, headers


def process(client: TestClient, headers: dict[str, str], ticket_id: object = TICKET):
    return client.post("/tickets/process", json={"ticket_id": ticket_id}, headers=headers)


def notes(sim: ZendeskSimulator, ticket_id: int) -> list[dict]:
    """Our private notes on a ticket (seed tickets may carry agents' own internal notes)."""
    return [
        c
        for c in sim.ticket_comments(ticket_id)
        if not c.get("public", True) and c["body"].startswith("AI triage")
    ]


def test_process_stores_analysis_and_writes_tags_and_private_note(
    client: TestClient,
    account: tuple[User, dict[str, str]],
    zendesk_sim: ZendeskSimulator,
    db: Session,
) -> None:
    user, headers = account
    before_tags = list(zendesk_sim.ticket(TICKET)["tags"])
    response = process(client, headers)
    assert response.status_code == 200, response.text
    body = response.json()
    analysis = body["analysis"]
    assert analysis["source"] == "local"  # no OpenAI key: the offline analyzer answers
    assert analysis["category"] in {"bug", "feature", "billing", "support", "other"}
    assert body["write_back_status"] == "written"
    tags = zendesk_sim.ticket(TICKET)["tags"]
    assert set(before_tags) <= set(tags), "existing tags must never be dropped"
    assert f"ai_category_{analysis['category']}" in tags
    assert f"ai_urgency_{analysis['urgency']}" in tags
    assert f"ai_sentiment_{analysis['sentiment']}" in tags
    posted = notes(zendesk_sim, TICKET)
    assert len(posted) == 1 and analysis["summary"][:40] in posted[0]["body"]
    steps = db.scalars(select(ProcessingLog.step).where(ProcessingLog.user_id == user.id)).all()
    assert steps == ["fetch", "store", "analyze", "save", "write_back"]


def test_reprocessing_updates_without_duplicates(
    client: TestClient,
    account: tuple[User, dict[str, str]],
    zendesk_sim: ZendeskSimulator,
    db: Session,
) -> None:
    user, headers = account
    assert process(client, headers).status_code == 200
    second = process(client, headers)
    assert second.status_code == 200
    assert second.json()["write_back_status"] == "unchanged"
    assert db.scalar(select(func.count(Ticket.id)).where(Ticket.user_id == user.id)) == 1
    assert (
        db.scalar(select(func.count(TicketAnalysis.id)).where(TicketAnalysis.user_id == user.id))
        == 1
    )
    assert len(notes(zendesk_sim, TICKET)) == 1
    tags = zendesk_sim.ticket(TICKET)["tags"]
    assert len(tags) == len(set(tags))


def test_tag_prefix_and_switches_are_honoured(
    client: TestClient,
    users: UserFactory,
    db: Session,
    zendesk_url: str,
    zendesk_sim: ZendeskSimulator,
) -> None:
    user, headers = users.authed()
    configure_zendesk(db, user, zendesk_url, tag_prefix="triage", write_note=False)
    response = process(client, headers)
    assert response.status_code == 200
    assert any(tag.startswith("triage_category_") for tag in zendesk_sim.ticket(TICKET)["tags"])
    assert notes(zendesk_sim, TICKET) == []


@pytest.mark.parametrize("ticket_id", [0, -5, "abc", 1.5, None, 2**63])
def test_process_rejects_bad_ticket_ids_with_422(
    client: TestClient, account: tuple[User, dict[str, str]], ticket_id: object
) -> None:
    _, headers = account
    response = process(client, headers, ticket_id)
    assert response.status_code == 422
    assert "ticket_id" in response.json()["error"]["message"]


def test_process_without_zendesk_settings_is_400_naming_them(
    client: TestClient, users: UserFactory
) -> None:
    _, headers = users.authed()
    response = process(client, headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "not_configured"
    assert "zendesk_url" in error["message"] and "zendesk_api_token" in error["message"]


def test_ticket_missing_in_zendesk_is_404_with_zendesks_message(
    client: TestClient, account: tuple[User, dict[str, str]], db: Session
) -> None:
    _, headers = account
    response = process(client, headers, 999_999)
    assert response.status_code == 404
    assert "Not found" in response.json()["error"]["message"]
    assert db.scalar(select(func.count(Ticket.id))) == 0


def test_zendesk_unreachable_is_502_and_nothing_is_stored(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    configure_zendesk(db, user, "http://127.0.0.1:9")  # nothing listens on the discard port
    response = process(client, headers)
    assert response.status_code == 502
    assert "Zendesk" in response.json()["error"]["message"]
    assert db.scalar(select(func.count(Ticket.id))) == 0
    assert db.scalar(select(func.count(TicketAnalysis.id))) == 0


def test_zendesk_bad_credentials_is_502_saying_so(
    client: TestClient, users: UserFactory, db: Session, zendesk_url: str
) -> None:
    user, headers = users.authed()
    configure_zendesk(db, user, zendesk_url, zendesk_api_token="wrong-token")
    response = process(client, headers)
    assert response.status_code == 502
    assert "credentials" in response.json()["error"]["message"]


def test_zendesk_429_is_retried_after_retry_after(
    client: TestClient, account: tuple[User, dict[str, str]], zendesk_sim: ZendeskSimulator
) -> None:
    _, headers = account
    zendesk_sim.fail_next(1, 429, retry_after=1)
    response = process(client, headers)
    assert response.status_code == 200
    fetches = zendesk_sim.calls_matching(method="GET", path_contains=f"/tickets/{TICKET}.json")
    assert len(fetches) == 2
    assert fetches[1].time - fetches[0].time >= 0.95


def test_write_back_failure_keeps_the_analysis_and_reports_it(
    client: TestClient,
    account: tuple[User, dict[str, str]],
    zendesk_sim: ZendeskSimulator,
    db: Session,
) -> None:
    _, headers = account
    zendesk_sim.fail_next(1, 422, path_contains="/tags.json")
    response = process(client, headers)
    assert response.status_code == 200
    assert response.json()["write_back_status"] == "failed"
    assert db.scalar(select(func.count(TicketAnalysis.id))) == 1
    retry = process(client, headers)
    assert retry.json()["write_back_status"] == "written"


def test_llm_analysis_records_cost_and_source(
    client: TestClient,
    account: tuple[User, dict[str, str]],
    db: Session,
    openai_base_url: str,
    openai_api_key: str,
    openai_sim: OpenAISimulator,
) -> None:
    user, headers = account
    configure_zendesk(
        db,
        user,
        account_url(db, user),
        openai_api_key=openai_api_key,
        openai_base_url=openai_base_url,
    )
    response = process(client, headers)
    assert response.status_code == 200, response.text
    analysis = response.json()["analysis"]
    assert analysis["source"] == "llm"
    assert analysis["model"] == "gpt-4o-mini"
    assert float(analysis["cost_usd"]) > 0
    assert analysis["input_tokens"] > 0 and analysis["output_tokens"] > 0
    assert len(openai_sim.calls) == 1


@pytest.mark.parametrize("fault", ["429", "500", "malformed", "schema", "refusal", "timeout"])
def test_llm_fault_falls_back_to_offline_and_logs_the_cause(
    client: TestClient,
    account: tuple[User, dict[str, str]],
    db: Session,
    openai_base_url: str,
    openai_api_key: str,
    openai_sim: OpenAISimulator,
    fault: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.config import get_settings

    monkeypatch.setattr(get_settings(), "llm_max_retries", 0)
    monkeypatch.setattr(get_settings(), "llm_timeout_s", 1.0)
    user, headers = account
    configure_zendesk(
        db,
        user,
        account_url(db, user),
        openai_api_key=openai_api_key,
        openai_base_url=openai_base_url,
    )
    openai_sim.fail_next(5, fault)
    response = process(client, headers)
    assert response.status_code == 200, response.text
    analysis = response.json()["analysis"]
    assert analysis["source"] == "fallback"
    log = db.scalar(select(ProcessingLog).where(ProcessingLog.step == "analyze"))
    assert log is not None and log.status == "fallback" and log.message


def account_url(db: Session, user: User) -> str:
    from app.accounts.integrations import get_row

    row = get_row(db=db, user_id=user.id)
    assert row is not None and row.zendesk_url
    return row.zendesk_url


def test_ticket_whose_requester_id_is_beyond_64_bits_is_422_and_nothing_is_stored(
    client: TestClient,
    account: tuple[User, dict[str, str]],
    zendesk_sim: ZendeskSimulator,
    db: Session,
) -> None:
    _, headers = account
    bad = zendesk_sim.create_ticket("Printer on fire", "Please help", requester_id=2**64 + 1)
    response = process(client, headers, bad["id"])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unstorable_ticket" and "requester_id" in error["message"]
    assert (
        db.scalar(select(func.count(Ticket.id)).where(Ticket.zendesk_ticket_id == bad["id"])) == 0
    )
    assert notes(zendesk_sim, bad["id"]) == []


def test_nul_and_lone_surrogates_in_ticket_text_are_cleaned_and_stored(
    client: TestClient,
    account: tuple[User, dict[str, str]],
    zendesk_sim: ZendeskSimulator,
    db: Session,
) -> None:
    _, headers = account
    odd = zendesk_sim.create_ticket("Crash \ud800 on save\x00", "It fails \udfff\x00 every time")
    response = process(client, headers, odd["id"])
    assert response.status_code == 200, response.text
    assert response.json()["ticket"]["subject"] == "Crash \ufffd on save"
    stored = db.scalar(select(Ticket).where(Ticket.zendesk_ticket_id == odd["id"]))
    assert stored is not None and stored.description == "It fails \ufffd every time"
