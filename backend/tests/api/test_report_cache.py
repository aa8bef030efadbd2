"""The per-process report cache: the same dashboard request within a few seconds is answered
from memory; what this process flushes shows at once, what another wrote after the lifetime."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.models import TicketAnalysis
from tests.factories import UserFactory, client_with_settings, create_analysed_ticket

LIFETIME_S = 2.0  # the calls before it expires must fit in it on a loaded machine


@pytest.fixture
def short_cache_client(app: FastAPI) -> Iterator[TestClient]:
    """An app whose report cache lasts LIFETIME_S, on the test's database session."""
    with client_with_settings(app, report_cache_seconds=LIFETIME_S) as client:
        yield client


def categories(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, int]:
    response = client.get("/analytics/dashboard", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["categories"]["items"]
    return {item["label"]: item["count"] for item in items if item["count"]}


def test_an_analysis_saved_in_this_process_shows_at_once(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    create_analysed_ticket(db, user, category="bug")
    db.flush()
    assert categories(client, headers) == {"bug": 1}
    create_analysed_ticket(db, user, category="billing")
    db.flush()
    assert categories(client, headers) == {"bug": 1, "billing": 1}


def test_a_change_made_by_another_process_shows_after_the_cache_lifetime(
    short_cache_client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    create_analysed_ticket(db, user, category="bug")
    db.flush()
    assert categories(short_cache_client, headers) == {"bug": 1}
    # Another process relabels it: no flush of this process sees the change.
    db.execute(
        update(TicketAnalysis).where(TicketAnalysis.user_id == user.id).values(category="billing")
    )
    assert categories(short_cache_client, headers) == {"bug": 1}  # from memory
    assert categories(short_cache_client, headers, tz="Asia/Tokyo") == {"billing": 1}  # new key
    time.sleep(LIFETIME_S + 0.05)
    assert categories(short_cache_client, headers) == {"billing": 1}


def test_each_user_has_their_own_reports(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    alice, alice_headers = users.authed()
    bob, bob_headers = users.authed()
    create_analysed_ticket(db, alice, category="bug")
    create_analysed_ticket(db, bob, category="feature")
    db.flush()
    assert categories(client, alice_headers) == {"bug": 1}
    assert categories(client, bob_headers) == {"feature": 1}
