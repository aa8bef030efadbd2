"""The per-process token cache: a token seen in the last few seconds authenticates from
memory; changes flushed here are seen at once, changes made elsewhere within its lifetime."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.accounts.token_cache import TokenCache
from app.models import User
from tests.factories import UserFactory, client_with_settings

LIFETIME_S = 0.3


@pytest.fixture
def short_cache_client(app: FastAPI) -> Iterator[TestClient]:
    """An app whose token cache lasts LIFETIME_S, on the test's database session."""
    with client_with_settings(app, auth_cache_seconds=LIFETIME_S) as client:
        yield client


def test_a_user_changed_in_this_process_is_not_served_from_the_cache(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    assert client.get("/tickets/", headers=headers).status_code == 200  # now cached
    user.is_active = False
    db.flush()
    assert client.get("/tickets/", headers=headers).status_code == 401


def test_a_new_time_zone_is_seen_at_once(client: TestClient, users: UserFactory) -> None:
    _, headers = users.authed()
    assert client.get("/settings/", headers=headers).json()["profile"]["timezone"] == "UTC"
    response = client.put("/settings/", json={"timezone": "Europe/Berlin"}, headers=headers)
    assert response.status_code == 200, response.text
    profile = client.get("/settings/", headers=headers).json()["profile"]
    assert profile["timezone"] == "Europe/Berlin"


def test_a_change_made_by_another_process_is_seen_after_the_cache_lifetime(
    short_cache_client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    assert short_cache_client.get("/tickets/", headers=headers).status_code == 200
    # Another process deactivates the account: no flush of this process sees it.
    db.execute(update(User).where(User.id == user.id).values(is_active=False))
    db.expire_all()
    assert short_cache_client.get("/tickets/", headers=headers).status_code == 200  # cached
    db.expire_all()
    assert short_cache_client.get("/auth/me", headers=headers).status_code == 401  # checked
    time.sleep(LIFETIME_S + 0.05)
    db.expire_all()
    assert short_cache_client.get("/tickets/", headers=headers).status_code == 401


def test_an_entry_lasts_no_longer_than_its_token(users: UserFactory) -> None:
    user = users.create()
    cache = TokenCache(ttl_s=60)
    cache.put("expired", user, expires_at=time.time() - 1)
    cache.put("short", user, expires_at=time.time() + 0.05)
    cache.put("long", user, expires_at=time.time() + 3600)
    assert cache.get("expired") is None
    assert cache.get("short") is not None and cache.get("long") is not None
    time.sleep(0.1)
    assert cache.get("short") is None
    snapshot = cache.get("long")
    assert snapshot is not None and snapshot is not user and snapshot.id == user.id


def test_a_zero_lifetime_turns_the_cache_off(users: UserFactory) -> None:
    cache = TokenCache(ttl_s=0)
    cache.put("token", users.create(), expires_at=time.time() + 3600)
    assert cache.get("token") is None


def test_a_full_cache_drops_its_oldest_entries(users: UserFactory) -> None:
    user = users.create()
    cache = TokenCache(ttl_s=60, max_entries=2)
    for token in ("first", "second", "third"):
        cache.put(token, user, expires_at=time.time() + 3600)
    assert cache.get("first") is None
    assert cache.get("second") is not None and cache.get("third") is not None
