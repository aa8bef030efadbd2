"""One tenant with a slow upstream cannot starve the others: synchronous processing is
bounded per user (429 with Retry-After beyond it) and in total, on a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import Engine, delete

from app.accounts import integrations
from app.accounts.users import create_user
from app.config import get_settings
from app.core.rate_limit import ProcessingLimiter
from app.database import session_scope
from app.errors import ServiceUnavailable, TooManyRequests
from app.main import create_app
from app.models import User
from sandbox.openai_sim import OpenAISimulator
from sandbox.serve import serve_in_thread
from sandbox.zendesk import DEFAULT_API_TOKEN, DEFAULT_EMAIL
from tests.factories import DEFAULT_PASSWORD

PER_USER = 3
CALLS = 45  # more than the server's 40 worker threads


@pytest.fixture
def committed_users(engine: Engine) -> Iterator[list[User]]:
    made: list[User] = []

    def make(**changes: object) -> User:
        with session_scope() as db:
            user = create_user(
                db=db, email=f"limits-{time.monotonic_ns()}@example.com", password=DEFAULT_PASSWORD
            )
            if changes:
                integrations.update(db=db, user_id=user.id, changes=changes)
        made.append(user)
        return user

    yield make  # type: ignore[misc]
    with session_scope() as db:
        db.execute(delete(User).where(User.id.in_([user.id for user in made])))


def bearer(api: str, user: User) -> dict[str, str]:
    response = httpx.post(
        f"{api}/auth/login", data={"username": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# On SQLite the released calls then contend for the same rollup row and some end in a 503
# (a busy database), which is another matter than the one under test here.
@pytest.mark.postgres_only
def test_a_tenant_with_a_hanging_llm_gets_429s_and_others_are_still_served(
    committed_users,  # type: ignore[no-untyped-def]
    zendesk_url: str,
    openai_sim: OpenAISimulator,
    openai_base_url: str,
    openai_api_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "llm_max_retries", 0)
    monkeypatch.setattr(get_settings(), "llm_timeout_s", 60.0)
    slow = committed_users(
        zendesk_url=zendesk_url,
        zendesk_email=DEFAULT_EMAIL,
        zendesk_api_token=DEFAULT_API_TOKEN,
        openai_api_key=openai_api_key,
        openai_base_url=openai_base_url,
    )
    other = committed_users()
    app = create_app(
        get_settings().model_copy(update={"processing_concurrency_per_user": PER_USER})
    )
    openai_sim.hang_s = 60.0
    openai_sim.fail_next(CALLS, "timeout")  # every model call hangs until released
    with serve_in_thread(app) as api, ThreadPoolExecutor(CALLS) as pool:
        slow_headers, other_headers = bearer(api, slow), bearer(api, other)

        def process(ticket_id: int) -> httpx.Response:
            return httpx.post(
                f"{api}/tickets/process",
                json={"ticket_id": ticket_id},
                headers=slow_headers,
                timeout=90,
            )

        calls: list[Future[httpx.Response]] = [
            pool.submit(process, 1 + n % 5) for n in range(CALLS)
        ]
        try:
            refused = wait_for(lambda: [c for c in calls if c.done()], CALLS - PER_USER)
            hanging = [call for call in calls if not call.done()]
            me = httpx.get(f"{api}/auth/me", headers=other_headers, timeout=10)
            assert me.status_code == 200, me.text
            assert not any(call.done() for call in hanging), "answered only after the slow ones"
        finally:
            openai_sim.release_hangs()
        for call in refused:
            response = call.result()
            assert response.status_code == 429, response.text
            assert response.headers["retry-after"].isdigit()
            assert response.json()["error"]["details"]["limit"] == PER_USER
        assert len(hanging) == PER_USER
        for call in hanging:
            response = call.result()
            assert response.status_code == 200, response.text
        again = httpx.post(
            f"{api}/tickets/process", json={"ticket_id": 1}, headers=slow_headers, timeout=30
        )
        assert again.status_code == 200, "the slots are given back"


def wait_for(finished, count: int, timeout_s: float = 60) -> list[Future[httpx.Response]]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = finished()
        if len(done) >= count:
            return done  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} calls answered within {timeout_s} s")


def test_the_limiter_bounds_each_user_and_the_total() -> None:
    limiter = ProcessingLimiter(per_user=2, total=3)
    with limiter.slot(1), limiter.slot(1):
        with pytest.raises(TooManyRequests) as per_user, limiter.slot(1):
            pass
        assert per_user.value.headers == {"Retry-After": "5"}
        with limiter.slot(2), pytest.raises(ServiceUnavailable), limiter.slot(3):
            pass
    with limiter.slot(1), limiter.slot(1), limiter.slot(3):  # all given back
        pass


def test_connection_tests_are_bounded_too(client, users) -> None:  # type: ignore[no-untyped-def]
    schema = client.get("/openapi.json").json()["paths"]
    for path in ("/tickets/process", "/settings/zendesk/test", "/settings/openai/test"):
        assert "429" in schema[path]["post"]["responses"], path
    user, headers = users.authed()
    limiter = client.app.state.processing_limiter
    with limiter.slot(user.id), limiter.slot(user.id), limiter.slot(user.id), limiter.slot(user.id):
        for path in ("/settings/zendesk/test", "/settings/openai/test", "/tickets/process"):
            response = client.post(path, json={"ticket_id": 1}, headers=headers)
            assert response.status_code == 429, (path, response.text)
