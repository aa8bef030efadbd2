"""Two requests for the same ticket at once (a double click, a script retrying after its own
timeout while the first request still runs) post the ticket's note once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.database import session_scope
from app.models import Ticket, TicketAnalysis, User, utcnow
from app.pipeline import writeback
from sandbox.zendesk import ZendeskSimulator
from tests.factories import open_ticket_ids
from tests.worker.conftest import login

pytestmark = pytest.mark.postgres_only  # row locks between two live requests

SLOW_S = 0.4


def our_notes(sim: ZendeskSimulator, ticket_id: int) -> list[dict]:
    return [
        comment
        for comment in sim.ticket_comments(ticket_id)
        if not comment.get("public", True) and comment["body"].startswith("AI triage")
    ]


def analysis_of(db: Session, zendesk_ticket_id: int) -> TicketAnalysis:
    return db.scalars(
        select(TicketAnalysis)
        .join(Ticket, Ticket.id == TicketAnalysis.ticket_id)
        .where(Ticket.zendesk_ticket_id == zendesk_ticket_id)
    ).one()


def process_at_once(client: TestClient, headers: dict[str, str], ticket_id: int, n: int) -> list:
    start = threading.Barrier(n)
    responses: list = [None] * n

    def send(index: int) -> None:
        start.wait()
        responses[index] = client.post(
            "/tickets/process", json={"ticket_id": ticket_id}, headers=headers
        )

    threads = [threading.Thread(target=send, args=(index,)) for index in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def test_two_requests_at_once_post_the_note_once(
    live_client: TestClient, committed_user: User, zendesk_sim: ZendeskSimulator
) -> None:
    headers = login(live_client, committed_user)
    (ticket_id,) = open_ticket_ids(zendesk_sim, 1)
    zendesk_sim.latency_s = SLOW_S  # both fetch together; the first write is in flight long

    responses = process_at_once(live_client, headers, ticket_id, 2)

    assert [response.status_code for response in responses] == [200, 200]
    assert len(our_notes(zendesk_sim, ticket_id)) == 1
    with session_scope() as db:
        analysis = analysis_of(db, ticket_id)
        assert analysis.note_fingerprint is not None
        assert not analysis.note_fingerprint.startswith(writeback.PENDING)  # recorded posted


def claim_note(zendesk_ticket_id: int, *, age_s: float) -> None:
    """Store the ticket's note as claimed `age_s` ago by a request that has not recorded it."""
    with session_scope() as db:
        analysis = analysis_of(db, zendesk_ticket_id)
        analysis.note_fingerprint = writeback.pending(analysis.note_fingerprint or "")
        analysis.note_claimed_at = utcnow() - timedelta(seconds=age_s)


def write_back_log(client: TestClient, headers: dict[str, str], ticket_id: int) -> dict:
    logs = client.get(f"/tickets/{ticket_id}", headers=headers).json()["logs"]
    return next(log for log in logs if log["step"] == "write_back")  # newest first


@pytest.mark.parametrize(
    ("claim_age_s", "left_to_the_claim"),
    [(1.0, True), (writeback.NOTE_CLAIM_S + 1, False)],
    ids=["live-claim", "claim-of-a-dead-request"],
)
def test_a_note_claimed_by_another_request_is_left_to_it_until_the_claim_is_stale(
    live_client: TestClient,
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    claim_age_s: float,
    left_to_the_claim: bool,
) -> None:
    headers = login(live_client, committed_user)
    (ticket_id,) = open_ticket_ids(zendesk_sim, 1)
    first = live_client.post("/tickets/process", json={"ticket_id": ticket_id}, headers=headers)
    assert first.json()["write_back_status"] == "written", first.text
    claim_note(ticket_id, age_s=claim_age_s)

    again = live_client.post("/tickets/process", json={"ticket_id": ticket_id}, headers=headers)

    assert again.status_code == 200, again.text
    assert len(our_notes(zendesk_sim, ticket_id)) == 1  # never posted twice
    log = write_back_log(live_client, headers, ticket_id)
    assert (log["message"] == writeback.NOTE_POSTED_ELSEWHERE) is left_to_the_claim, log
