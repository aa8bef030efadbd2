"""GET /analytics/cost: cost per path, LLM calls avoided and savings, per user and period."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Ticket, TicketAnalysis, User
from tests.factories import UserFactory

_ids = itertools.count(700_000)
NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = {
    "start": (NOW - timedelta(days=2)).isoformat(),
    "end": (NOW + timedelta(minutes=1)).isoformat(),
}


def analysed(
    db: Session,
    user: User,
    source: str,
    cost: str = "0",
    reason: str = "",
    *,
    route: str | None = None,
    at: datetime = NOW - timedelta(hours=1),
    tokens: tuple[int, int, int] = (0, 0, 0),
    text: str = "",
) -> None:
    ticket = Ticket(
        user_id=user.id, zendesk_ticket_id=next(_ids), subject="Subject", description=text
    )
    db.add(ticket)
    db.flush()
    db.add(
        TicketAnalysis(
            ticket_id=ticket.id,
            user_id=user.id,
            category="bug",
            urgency="medium",
            sentiment="neutral",
            source=source,
            decision_reason=reason,
            route=route
            or {"llm": "llm", "fallback": "llm_fallback", "batch": "batch"}.get(source, "no_llm"),
            cost_usd=Decimal(cost),
            input_tokens=tokens[0],
            cached_input_tokens=tokens[1],
            output_tokens=tokens[2],
            created_at=at,
            updated_at=at,
        )
    )
    db.flush()


def test_cost_per_path_avoided_calls_and_savings(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    confident = "cascade: local confident (category 0.97 ≥ 0.93, urgency 0.91 ≥ 0.88)"
    analysed(db, user, "local", reason=confident, route="confident")
    analysed(db, user, "local", reason=confident, route="confident")
    analysed(db, user, "local", reason="no LLM configured")  # no LLM: nothing avoided
    pending = "cascade: category 0.55 < 0.93 → llm batch pending"
    analysed(db, user, "local", reason=pending, route="batch_pending")
    analysed(
        db, user, "llm", "0.0004", "cascade: category 0.55 < 0.93 → llm", tokens=(2000, 1800, 100)
    )
    analysed(db, user, "llm", "0.0006", "mode=llm → llm", tokens=(2400, 1800, 140))
    analysed(db, user, "fallback", reason="cascade: category 0.4 < 0.93 → llm timeout → offline")
    analysed(db, user, "batch", "0.0002", "cascade: urgency 0.5 < 0.7 → llm batch")
    analysed(db, user, "llm", "0.5", "llm", at=NOW - timedelta(days=5))  # before the period
    stranger = users.create()
    analysed(db, stranger, "llm", "0.9", "llm")  # another user's

    response = client.get("/analytics/cost", params=WINDOW, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tickets"] == 8
    paths = {path["source"]: path for path in body["by_path"]}
    assert list(paths) == ["local", "llm", "fallback", "batch"]
    assert (paths["local"]["tickets"], Decimal(paths["local"]["total_cost_usd"])) == (4, 0)
    assert paths["llm"]["tickets"] == 2
    assert Decimal(paths["llm"]["total_cost_usd"]) == Decimal("0.001")
    assert Decimal(paths["llm"]["cost_per_ticket_usd"]) == Decimal("0.0005")
    assert (paths["llm"]["input_tokens"], paths["llm"]["cached_input_tokens"]) == (4400, 3600)
    assert paths["fallback"]["cost_per_ticket_usd"] is not None
    assert Decimal(paths["batch"]["cost_per_ticket_usd"]) == Decimal("0.0002")
    assert Decimal(body["total_cost_usd"]) == Decimal("0.0012")
    assert Decimal(body["cost_per_ticket_usd"]) == Decimal("0.00015")
    assert body["llm_calls_avoided"] == 2
    assert body["llm_batch_pending"] == 1
    assert body["all_llm_basis"] == "observed"
    assert Decimal(body["all_llm_cost_per_ticket_usd"]) == Decimal("0.0005")
    assert Decimal(body["all_llm_cost_usd"]) == Decimal("0.004")  # 8 tickets x 0.0005
    assert Decimal(body["estimated_savings_usd"]) == Decimal("0.0028")
    assert body["savings_percentage"] == 70.0


def test_without_llm_analyses_the_all_llm_cost_is_estimated_from_tokens(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    for _ in range(3):
        analysed(db, user, "local", reason="no LLM configured", text="My printer is broken. " * 20)
    body = client.get("/analytics/cost", params=WINDOW, headers=headers).json()
    assert body["all_llm_basis"] == "estimated"
    per_ticket = Decimal(body["all_llm_cost_per_ticket_usd"])
    assert Decimal("0.00005") < per_ticket < Decimal("0.001")  # ~2k prompt tokens, gpt-4o-mini
    assert Decimal(body["estimated_savings_usd"]) == per_ticket * 3


def test_empty_period_has_no_costs(client: TestClient, users: UserFactory) -> None:
    _, headers = users.authed()
    body = client.get("/analytics/cost", params=WINDOW, headers=headers).json()
    assert body["tickets"] == 0 and body["cost_per_ticket_usd"] is None
    assert all(path["tickets"] == 0 for path in body["by_path"])
    assert body["all_llm_cost_usd"] is None and body["savings_percentage"] is None


def test_start_after_end_is_422(client: TestClient, users: UserFactory) -> None:
    _, headers = users.authed()
    response = client.get(
        "/analytics/cost",
        params={"start": WINDOW["end"], "end": WINDOW["start"]},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_cost_needs_a_token(client: TestClient) -> None:
    assert client.get("/analytics/cost").status_code == 401
