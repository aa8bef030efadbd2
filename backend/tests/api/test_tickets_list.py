"""GET /tickets/, /tickets/{id} and /tickets/stats/summary: filters, pages, isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.models import Ticket, User
from tests.factories import UserFactory, create_analysed_ticket


@pytest.fixture
def owner(users: UserFactory, db: Session) -> tuple[User, dict[str, str]]:
    user, headers = users.authed()
    create_analysed_ticket(db, user, zendesk_ticket_id=11, subject="Login broken", category="bug")
    create_analysed_ticket(
        db,
        user,
        zendesk_ticket_id=12,
        subject="Refund please",
        category="billing",
        urgency="high",
        sentiment="negative",
    )
    create_analysed_ticket(
        db,
        user,
        zendesk_ticket_id=13,
        subject="Dark mode?",
        category="feature",
        urgency="low",
        sentiment="positive",
        source="llm",
    )
    db.flush()
    return user, headers


def ids(response: Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["zendesk_ticket_id"] for item in response.json()["items"]]


def test_list_filters_by_each_label_and_counts_the_total(client: TestClient, owner: tuple) -> None:
    _, headers = owner
    assert ids(client.get("/tickets/?category=billing", headers=headers)) == [12]
    assert ids(client.get("/tickets/?urgency=low", headers=headers)) == [13]
    assert ids(client.get("/tickets/?sentiment=negative", headers=headers)) == [12]
    assert ids(client.get("/tickets/?source=llm", headers=headers)) == [13]
    response = client.get("/tickets/?category=bug&urgency=medium", headers=headers)
    assert ids(response) == [11] and response.json()["total"] == 1


def test_list_answers_without_the_trailing_slash_too(
    client: TestClient, owner: tuple, app: FastAPI
) -> None:
    _, headers = owner
    response = client.get("/tickets?category=billing", headers=headers, follow_redirects=False)
    assert ids(response) == [12]
    assert response.json() == client.get("/tickets/?category=billing", headers=headers).json()
    unauthenticated = client.get("/tickets", follow_redirects=False)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["message"] == "Not authenticated"
    paths = app.openapi()["paths"]
    assert "/tickets/" in paths and "/tickets" not in paths  # one documented spelling


def test_list_searches_the_subject_and_escapes_wildcards(client: TestClient, owner: tuple) -> None:
    _, headers = owner
    assert ids(client.get("/tickets/?q=refund", headers=headers)) == [12]
    assert ids(client.get("/tickets/?q=%25", headers=headers)) == []


def test_a_search_of_several_words_with_a_number_matches_the_whole_text(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    """The index looks up the number only; the whole text must still be in the subject."""
    user, headers = users.authed()
    subjects = {21: "Refund for Order 4242-A", 22: "order 4242", 23: "Refund 4242", 24: "Order 424"}
    for ticket_id, subject in subjects.items():
        create_analysed_ticket(db, user, zendesk_ticket_id=ticket_id, subject=subject)
    db.flush()
    search = {"sort": "zendesk_ticket_id"}
    assert ids(client.get("/tickets/", params={**search, "q": "order 4242"}, headers=headers)) == [
        21,
        22,
    ]
    found = client.get("/tickets/", params={**search, "q": "ORDER 4242-a"}, headers=headers)
    assert ids(found) == [21] and found.json()["total"] == 1
    assert ids(client.get("/tickets/", params={"q": "order 4242%"}, headers=headers)) == []


def _tickets_updated_in_number_order(db: Session, user: User, subjects: dict[int, str]) -> None:
    """Tickets numbered as given; a higher number was updated later."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for number, subject in subjects.items():
        analysis = create_analysed_ticket(db, user, zendesk_ticket_id=number, subject=subject)
        db.execute(
            update(Ticket)
            .where(Ticket.id == analysis.ticket_id)
            .values(updated_at=start + timedelta(hours=number))
        )
    db.flush()


def test_a_search_pages_its_matches_newest_first_whatever_their_case(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    subjects = {
        1: "Refund for ORDER 77123",
        2: "order 771",
        3: "Order 1771",  # the number does not start with 77
        4: "order 77",
        5: "Charged twice (Order 77999)",
        6: "order_77",  # "_" is not a space
        7: "Border 7789",  # "order 77" inside a longer word still counts
        8: "ORDER 7",
        9: "Order 77-B",
        10: "reorder 770",
    }
    _tickets_updated_in_number_order(db, user, subjects)
    pages = [
        client.get(
            "/tickets/", params={"q": "order 77", "page": page, "page_size": 3}, headers=headers
        )
        for page in (1, 2, 3)
    ]
    assert [ids(page) for page in pages] == [[10, 9, 7], [5, 4, 2], [1]]
    assert {page.json()["total"] for page in pages} == {7}
    assert ids(client.get("/tickets/", params={"q": "ORDER 77-b"}, headers=headers)) == [9]


def test_a_search_finds_a_ticket_by_its_edited_subject(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    analysis = create_analysed_ticket(db, user, zendesk_ticket_id=31, subject="Login broken")
    db.flush()
    ticket = db.get(Ticket, analysis.ticket_id)
    assert ticket is not None
    ticket.subject = "Invoice MISSING since March"
    db.flush()
    assert ids(client.get("/tickets/", params={"q": "missing"}, headers=headers)) == [31]
    assert ids(client.get("/tickets/", params={"q": "login"}, headers=headers)) == []


@pytest.mark.postgres_only  # SQLite's lower() and LIKE fold ASCII letters only
def test_a_search_folds_the_case_of_accented_letters(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    _tickets_updated_in_number_order(db, user, {41: "ÉCRAN noir", 42: "écran bleu", 43: "Ecran"})
    assert ids(client.get("/tickets/", params={"q": "écran"}, headers=headers)) == [42, 41]
    assert ids(client.get("/tickets/", params={"q": "ÉCRAN B"}, headers=headers)) == [42]


def test_list_pages_and_sorts(client: TestClient, owner: tuple) -> None:
    _, headers = owner
    first = client.get("/tickets/?sort=zendesk_ticket_id&page_size=2", headers=headers)
    assert ids(first) == [11, 12] and first.json()["total"] == 3
    assert first.json()["total_is_exact"] is True  # counted exactly below 10,000
    second = client.get("/tickets/?sort=zendesk_ticket_id&page_size=2&page=2", headers=headers)
    assert ids(second) == [13]
    assert ids(client.get("/tickets/?sort=-zendesk_ticket_id", headers=headers)) == [13, 12, 11]


def test_list_filters_by_date_range(client: TestClient, owner: tuple) -> None:
    _, headers = owner
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = client.get("/tickets/", params={"start": future}, headers=headers)
    assert ids(response) == []


def test_date_without_offset_is_the_users_local_time(
    client: TestClient, owner: tuple, db: Session
) -> None:
    user, headers = owner
    user.timezone = "Pacific/Kiritimati"  # UTC+14
    db.flush()
    an_hour_ago_there = datetime.now(UTC) + timedelta(hours=14) - timedelta(hours=1)
    naive = an_hour_ago_there.replace(tzinfo=None).isoformat()
    response = client.get("/tickets/", params={"start": naive}, headers=headers)
    assert sorted(ids(response)) == [11, 12, 13]
    response = client.get("/tickets/", params={"end": naive}, headers=headers)
    assert ids(response) == []


@pytest.mark.parametrize(
    "query",
    [
        "category=nope",
        "page=0",
        "page_size=101",
        "sort=password",
        "status=weird",
        "start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z",
        "start=yesterday",
        "start=0001-01-01T00:00:00&end=0001-01-02T00:00:00",
        "end=9999-12-31T23:59:59%2B14:00",
    ],
)
def test_list_rejects_bad_query_with_422(client: TestClient, owner: tuple, query: str) -> None:
    _, headers = owner
    response = client.get(f"/tickets/?{query}", headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["message"]


def test_a_bad_query_value_names_its_parameter(client: TestClient, owner: tuple) -> None:
    _, headers = owner
    error = client.get("/tickets/?page=0&sort=password", headers=headers).json()["error"]
    assert [detail["loc"] for detail in error["details"]] == [["query", "page"], ["query", "sort"]]
    assert error["message"].startswith("page: ")


def test_a_repeated_parameter_counts_once_with_its_last_value(
    client: TestClient, owner: tuple
) -> None:
    _, headers = owner
    response = client.get("/tickets/?category=nope&category=billing&other=x", headers=headers)
    assert response.status_code == 200
    assert [item["zendesk_ticket_id"] for item in response.json()["items"]] == [12]


def test_detail_shows_ticket_analysis_and_logs(client: TestClient, owner: tuple) -> None:
    _, headers = owner
    response = client.get("/tickets/12", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["ticket"]["subject"] == "Refund please"
    assert body["analysis"]["category"] == "billing"
    assert isinstance(body["logs"], list)


def test_another_users_tickets_are_invisible(
    client: TestClient, owner: tuple, users: UserFactory
) -> None:
    _, intruder = users.authed()
    assert client.get("/tickets/12", headers=intruder).status_code == 404
    assert client.get("/tickets/", headers=intruder).json()["total"] == 0
    assert client.get("/tickets/stats/summary", headers=intruder).json()["total_tickets"] == 0


def test_unknown_ticket_is_404_and_bad_id_is_422(client: TestClient, owner: tuple) -> None:
    _, headers = owner
    assert client.get("/tickets/999", headers=headers).status_code == 404
    assert client.get("/tickets/0", headers=headers).status_code == 422
    assert client.get("/tickets/abc", headers=headers).status_code == 422


def test_summary_counts_by_label(client: TestClient, owner: tuple) -> None:
    _, headers = owner
    body = client.get("/tickets/stats/summary", headers=headers).json()
    assert body["total_tickets"] == 3 and body["analysed_tickets"] == 3
    assert body["by_category"] == {"bug": 1, "billing": 1, "feature": 1}
    assert body["by_source"] == {"local": 2, "llm": 1}
    assert float(body["total_cost_usd"]) == pytest.approx(0.003)


def test_list_requires_a_token(client: TestClient) -> None:
    response = client.get("/tickets/")
    assert response.status_code == 401
