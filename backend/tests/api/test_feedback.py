"""POST /tickets/{ticket_id}/feedback: agents' correct labels for an analysed ticket."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Ticket, TicketAnalysis, User
from tests.factories import UserFactory, create_analysed_ticket

TICKET = 4242


@pytest.fixture
def account(db: Session, users: UserFactory) -> tuple[User, dict[str, str]]:
    user, headers = users.authed()
    create_analysed_ticket(
        db, user, zendesk_ticket_id=TICKET, category="bug", urgency="low", sentiment="neutral"
    )
    return user, headers


def feedback(client: TestClient, headers: dict[str, str], body: Any, ticket_id: object = TICKET):
    return client.post(f"/tickets/{ticket_id}/feedback", json=body, headers=headers)


def stored(db: Session, user: User) -> TicketAnalysis:
    analysis = db.scalar(
        select(TicketAnalysis)
        .join(Ticket, Ticket.id == TicketAnalysis.ticket_id)
        .where(Ticket.user_id == user.id, Ticket.zendesk_ticket_id == TICKET)
    )
    assert analysis is not None
    db.refresh(analysis)
    return analysis


def test_feedback_is_stored_on_the_analysis(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    user, headers = account
    response = feedback(client, headers, {"category": "billing", "urgency": "high"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["zendesk_ticket_id"] == TICKET
    assert (body["category"], body["feedback_category"]) == ("bug", "billing")
    assert (body["urgency"], body["feedback_urgency"]) == ("low", "high")
    assert body["feedback_sentiment"] is None
    assert body["feedback_at"] is not None
    analysis = stored(db, user)
    assert (analysis.feedback_category, analysis.feedback_urgency) == ("billing", "high")
    assert analysis.feedback_sentiment is None
    assert analysis.feedback_at is not None


def test_later_feedback_keeps_the_fields_it_leaves_out(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    user, headers = account
    assert feedback(client, headers, {"category": "billing"}).status_code == 200
    response = feedback(client, headers, {"sentiment": "negative", "category": None})
    assert response.status_code == 200, response.text
    analysis = stored(db, user)
    assert analysis.feedback_category == "billing"
    assert analysis.feedback_sentiment == "negative"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "at least one of category, urgency and sentiment"),
        ({"category": None}, "at least one"),
        ({"category": "spam"}, "category"),
        ({"urgency": "critical"}, "urgency"),
        ({"sentiment": 1}, "sentiment"),
        ({"categroy": "bug"}, "categroy"),
        ([], "valid dictionary"),
    ],
)
def test_invalid_feedback_is_a_422(
    client: TestClient,
    db: Session,
    account: tuple[User, dict[str, str]],
    body: Any,
    message: str,
) -> None:
    user, headers = account
    response = feedback(client, headers, body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert message in error["message"]
    assert stored(db, user).feedback_at is None


def test_feedback_on_another_users_ticket_is_a_404(
    client: TestClient, db: Session, users: UserFactory, account: tuple[User, dict[str, str]]
) -> None:
    user, _ = account
    _, other_headers = users.authed()
    response = feedback(client, other_headers, {"category": "billing"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert stored(db, user).feedback_category is None


def test_feedback_on_a_ticket_without_analysis_is_a_404(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    user, headers = account
    db.add(Ticket(user_id=user.id, zendesk_ticket_id=5150, subject="Not analysed yet"))
    db.flush()
    assert feedback(client, headers, {"category": "bug"}, ticket_id=5150).status_code == 404
    assert feedback(client, headers, {"category": "bug"}, ticket_id=999_999).status_code == 404


def test_ticket_id_must_be_a_positive_zendesk_id(
    client: TestClient, account: tuple[User, dict[str, str]]
) -> None:
    _, headers = account
    assert feedback(client, headers, {"category": "bug"}, ticket_id=0).status_code == 422
    assert feedback(client, headers, {"category": "bug"}, ticket_id="abc").status_code == 422


def test_feedback_needs_a_token(client: TestClient, account: tuple[User, dict[str, str]]) -> None:
    assert feedback(client, {}, {"category": "bug"}).status_code == 401
