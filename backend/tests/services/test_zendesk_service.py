"""ZendeskClient against the simulator over real HTTP: reads, writes, retries, errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from app.integrations import zendesk
from app.integrations.zendesk import (
    ZendeskAuthError,
    ZendeskClient,
    ZendeskCredentials,
    ZendeskInvalid,
    ZendeskNotFound,
    ZendeskRateLimited,
    ZendeskUnavailable,
    close_all,
    get_client,
    zendesk_base_url,
)
from sandbox.zendesk import ZendeskSimulator
from tests.factories import open_ticket_ids

ClientFactory = Callable[..., ZendeskClient]


@pytest.fixture
def make_client(
    zendesk_url: str, zendesk_credentials: ZendeskCredentials
) -> Iterator[ClientFactory]:
    """Build clients with test-friendly defaults; every one is closed after the test."""
    made: list[ZendeskClient] = []

    def build(**options: Any) -> ZendeskClient:
        settings: dict[str, Any] = {
            "requests_per_minute": 100_000,
            "timeout_s": 2.0,
            "max_retries": 3,
            "backoff_base_s": 0.01,
            "backoff_max_s": 0.05,
            **options,
        }
        credentials = settings.pop("credentials", zendesk_credentials)
        client = ZendeskClient(zendesk_url, credentials, **settings)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme", "https://acme.zendesk.com"),
        ("  Acme-Support ", "https://acme-support.zendesk.com"),
        ("acme.zendesk.com", "https://acme.zendesk.com"),
        ("https://acme.zendesk.com/", "https://acme.zendesk.com"),
        ("https://acme.zendesk.com/api/v2/", "https://acme.zendesk.com"),
        ("http://127.0.0.1:8100", "http://127.0.0.1:8100"),
    ],
)
def test_zendesk_base_url_accepts_subdomains_and_urls(raw: str, expected: str) -> None:
    assert zendesk_base_url(raw) == expected


@pytest.mark.parametrize("raw", ["", "acme corp", "-acme", "acme_support", "ftp://acme.com", "ü"])
def test_zendesk_base_url_rejects_invalid_input(raw: str) -> None:
    with pytest.raises(ValueError, match="Zendesk"):
        zendesk_base_url(raw)


def test_credentials_repr_hides_secrets() -> None:
    credentials = ZendeskCredentials("a@example.com", "secret-token", "secret-oauth")

    assert "secret" not in repr(credentials)
    assert "secret" not in credentials.fingerprint()


def test_credentials_need_a_token() -> None:
    with pytest.raises(ValueError):
        ZendeskCredentials("a@example.com")


def test_get_client_returns_one_client_per_account(zendesk_url: str) -> None:
    first = ZendeskCredentials("a@example.com", "token-1")
    try:
        client = get_client(zendesk_url, first)
        assert get_client(f"{zendesk_url}/", first) is client
        assert get_client(zendesk_url, ZendeskCredentials("a@example.com", "token-2")) is not client
    finally:
        close_all()
    assert client.closed
    assert get_client(zendesk_url, first) is not client
    close_all()


# --- reads ---------------------------------------------------------------------------------


def test_test_connection_returns_the_user(zendesk_client: ZendeskClient) -> None:
    assert zendesk_client.test_connection()["email"] == "agent@example.com"


def test_bearer_token_authenticates(
    make_client: ClientFactory, zendesk_sim: ZendeskSimulator
) -> None:
    client = make_client(credentials=ZendeskCredentials("", oauth_token=zendesk_sim.oauth_token))

    assert client.get_ticket(1)["id"] == 1
    assert zendesk_sim.calls[-1].auth_scheme == "bearer"


def test_get_ticket_returns_the_ticket(zendesk_client: ZendeskClient) -> None:
    ticket = zendesk_client.get_ticket(3)

    assert (ticket["id"], ticket["status"]) == (3, "solved")


def test_get_tickets_chunks_150_ids_into_two_calls(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    ids = list(range(1, 151))

    tickets = zendesk_client.get_tickets(ids)

    assert sorted(tickets) == ids
    calls = zendesk_sim.calls_matching(path_contains="show_many")
    assert [len(call.query["ids"].split(",")) for call in calls] == [100, 50]


def test_get_tickets_leaves_out_missing_ids(zendesk_client: ZendeskClient) -> None:
    assert sorted(zendesk_client.get_tickets([2, 999_999, 2, 4])) == [2, 4]


def test_get_comments_returns_the_thread(zendesk_client: ZendeskClient) -> None:
    comments = zendesk_client.get_comments(1)

    assert comments[0]["body"] == zendesk_client.get_ticket(1)["description"]


def test_search_follows_cursor_across_pages(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    expected = {i for i, t in zendesk_sim.tickets.items() if t["status"] in {"new", "open"}}

    found = [t["id"] for t in zendesk_client.search("type:ticket status<pending", page_size=25)]

    assert sorted(found) == sorted(expected)
    pages = zendesk_sim.calls_matching(path_contains="/search/export")
    assert len(pages) == -(-len(expected) // 25)
    assert all("type:" not in call.query["query"] for call in pages)


def test_incremental_export_returns_cursor_and_end_of_stream(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    tickets, cursor, end_of_stream = zendesk_client.incremental_export(start_time=0)

    assert len(tickets) == len(zendesk_sim.tickets)
    assert end_of_stream is True
    zendesk_sim.create_ticket("New one", "arrives later")
    more, _cursor, _end = zendesk_client.incremental_export(cursor=cursor)
    assert [t["subject"] for t in more] == ["New one"]


# --- writes --------------------------------------------------------------------------------


def test_add_tags_and_note_keeps_existing_tags_and_posts_private_note(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    ticket_id = open_ticket_ids(zendesk_sim, 1)[0]
    existing = zendesk_sim.ticket(ticket_id)["tags"]

    result = zendesk_client.add_tags_and_note(
        ticket_id, ["triage_bug", "urgency_high"], "AI triage: bug, high urgency"
    )

    stored = zendesk_sim.ticket(ticket_id)["tags"]
    assert stored == [*existing, "triage_bug", "urgency_high"]
    assert list(result.tags) == stored
    note = zendesk_sim.ticket_comments(ticket_id)[-1]
    assert (note["body"], note["public"]) == ("AI triage: bug, high urgency", False)
    assert result.comment_id == note["id"]
    sent = [call.json for call in zendesk_sim.calls if call.method == "PUT"]
    assert all("tags" not in (body.get("ticket") or {}) for body in sent)


def test_add_tags_without_note_makes_one_call(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    comments_before = len(zendesk_sim.ticket_comments(2))

    result = zendesk_client.add_tags_and_note(2, ["triage_billing"], None)

    assert "triage_billing" in result.tags
    assert result.comment_id is None
    assert len(zendesk_sim.ticket_comments(2)) == comments_before
    assert zendesk_client.calls_made == 1


def test_add_tags_rejects_tags_with_spaces(zendesk_client: ZendeskClient) -> None:
    with pytest.raises(ValueError):
        zendesk_client.add_tags_and_note(2, ["two words"], None)


def test_update_many_adds_tags_and_wait_for_job_returns_results(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    ids = open_ticket_ids(zendesk_sim, 3)
    before = {ticket_id: zendesk_sim.ticket(ticket_id)["tags"] for ticket_id in ids}

    job = zendesk_client.add_tags_many([*ids, 999_999], ["triaged"])
    results = zendesk_client.wait_for_job(job["id"], timeout_s=5)

    assert [(r["id"], r["success"]) for r in results] == [
        *((ticket_id, True) for ticket_id in ids),
        (999_999, False),
    ]
    for ticket_id in ids:
        assert zendesk_sim.ticket(ticket_id)["tags"] == [*before[ticket_id], "triaged"]
    assert zendesk_sim.calls_matching(path_contains="update_many")[0].query["ids"]


def test_add_notes_many_posts_private_notes_per_ticket(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    first, second = open_ticket_ids(zendesk_sim, 2)

    job = zendesk_client.add_notes_many({first: "note A", second: "note B"})
    zendesk_client.wait_for_job(job["id"], timeout_s=5)

    assert zendesk_sim.ticket_comments(first)[-1]["body"] == "note A"
    assert zendesk_sim.ticket_comments(second)[-1]["public"] is False


def test_update_many_refuses_over_100_tickets_and_replacing_tags(
    zendesk_client: ZendeskClient,
) -> None:
    with pytest.raises(ValueError, match="at most 100"):
        zendesk_client.add_tags_many(list(range(1, 102)), ["x"])
    with pytest.raises(ValueError, match="replaces"):
        zendesk_client.update_many(ticket_ids=[1], ticket={"tags": ["x"]})
    with pytest.raises(ValueError, match="not allowed per ticket"):
        zendesk_client.update_many(tickets=[{"id": 1, "additional_tags": ["x"]}])
    assert zendesk_client.calls_made == 0


# --- retries and errors --------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    zendesk_sim.fail_next(1, 429, retry_after=1)
    started = time.monotonic()

    ticket = zendesk_client.get_ticket(1)

    assert ticket["id"] == 1
    assert time.monotonic() - started >= 1.0
    assert [call.status for call in zendesk_sim.calls] == [429, 200]


def test_429_with_retry_after_beyond_the_cap_raises_rate_limited(
    make_client: ClientFactory, zendesk_sim: ZendeskSimulator
) -> None:
    client = make_client(retry_after_cap_s=5)
    zendesk_sim.fail_next(1, 429, retry_after=120)

    with pytest.raises(ZendeskRateLimited) as caught:
        client.get_ticket(1)

    assert caught.value.retry_after_s == 120
    assert len(zendesk_sim.calls) == 1


def test_server_rate_limit_is_retried_until_exhausted(
    make_client: ClientFactory, zendesk_sim: ZendeskSimulator
) -> None:
    client = make_client(max_retries=2)
    zendesk_sim.fail_next(5, 429)  # no Retry-After: fall back to backoff

    with pytest.raises(ZendeskRateLimited, match="Too many requests"):
        client.get_ticket(1)

    assert len(zendesk_sim.calls) == 3


def test_5xx_burst_is_retried_then_succeeds(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    zendesk_sim.fail_next(2, 503)
    zendesk_sim.fail_next(1, 500)

    assert zendesk_client.get_ticket(4)["id"] == 4
    assert [call.status for call in zendesk_sim.calls] == [503, 503, 500, 200]
    assert zendesk_client.retries_made == 3


def test_5xx_forever_raises_unavailable_after_bounded_attempts(
    make_client: ClientFactory, zendesk_sim: ZendeskSimulator
) -> None:
    client = make_client(max_retries=2)
    zendesk_sim.fault_5xx_rate = 1.0

    with pytest.raises(ZendeskUnavailable, match="503"):
        client.get_ticket(1)

    assert len(zendesk_sim.calls) == 3
    assert client.calls_made == 3


def test_timeout_is_retried(make_client: ClientFactory, zendesk_sim: ZendeskSimulator) -> None:
    client = make_client(timeout_s=0.3)
    zendesk_sim.hang_next(1, 1.0)

    assert client.get_ticket(1)["id"] == 1
    assert client.calls_made == 2


def test_note_is_not_reposted_after_an_ambiguous_timeout(
    make_client: ClientFactory, zendesk_sim: ZendeskSimulator
) -> None:
    client = make_client(timeout_s=0.3)
    ticket_id = open_ticket_ids(zendesk_sim, 1)[0]
    comments_before = len(zendesk_sim.ticket_comments(ticket_id))
    zendesk_sim.hang_next(1, 0.6, path_contains=f"/tickets/{ticket_id}.json")

    with pytest.raises(ZendeskUnavailable, match="may have been applied"):
        client.add_tags_and_note(ticket_id, ["triage_bug"], "the note")

    time.sleep(0.5)  # the server finishes the stalled request on its own
    assert len(zendesk_sim.calls_matching(method="PUT", path_contains=f"{ticket_id}.json")) == 1
    assert len(zendesk_sim.ticket_comments(ticket_id)) == comments_before + 1


def test_note_is_retried_after_503(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    ticket_id = open_ticket_ids(zendesk_sim, 1)[0]
    zendesk_sim.fail_next(1, 503, path_contains=f"/tickets/{ticket_id}.json")

    result = zendesk_client.add_tags_and_note(ticket_id, [], "after a 503")

    assert result.comment_id is not None
    assert zendesk_sim.ticket_comments(ticket_id)[-1]["body"] == "after a 503"


def test_401_raises_auth_error_without_retry(
    make_client: ClientFactory, zendesk_sim: ZendeskSimulator
) -> None:
    client = make_client(credentials=ZendeskCredentials("agent@example.com", "wrong-token"))

    with pytest.raises(ZendeskAuthError, match="Couldn't authenticate you") as caught:
        client.test_connection()

    assert caught.value.status_code == 401
    assert len(zendesk_sim.calls) == 1


def test_404_raises_not_found_with_zendesk_message(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    with pytest.raises(ZendeskNotFound) as caught:
        zendesk_client.get_ticket(999_999)

    error = caught.value
    assert (error.status_code, error.zendesk_error) == (404, "RecordNotFound")
    assert "RecordNotFound: Not found" in str(error)
    assert error.request_id
    assert len(zendesk_sim.calls) == 1


def test_422_raises_invalid_with_details(
    zendesk_client: ZendeskClient, zendesk_sim: ZendeskSimulator
) -> None:
    closed_id = next(i for i, t in zendesk_sim.tickets.items() if t["status"] == "closed")

    with pytest.raises(ZendeskInvalid) as caught:
        zendesk_client.add_tags_and_note(closed_id, [], "note on a closed ticket")

    assert caught.value.zendesk_error == "RecordInvalid"
    assert "status" in caught.value.details
    assert len(zendesk_sim.calls) == 1


def test_credentials_never_appear_in_logs(
    make_client: ClientFactory,
    zendesk_sim: ZendeskSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client()
    zendesk_sim.fail_next(1, 503)

    with caplog.at_level(logging.DEBUG):
        client.get_ticket(1)

    assert "retry 1/3" in caplog.text
    assert zendesk_sim.api_token not in caplog.text


# --- client-side rate limiting -------------------------------------------------------------


def test_rate_limiter_spaces_calls(
    make_client: ClientFactory, zendesk_sim: ZendeskSimulator
) -> None:
    zendesk_sim.rate_limit_per_minute = 600
    client = make_client(requests_per_minute=600, burst_s=0)  # ~10 per second

    started = time.monotonic()
    for _ in range(5):
        client.test_connection()

    assert time.monotonic() - started >= 0.38
    # Arrival times jitter on a busy machine, so the span is checked, not each gap: five
    # unpaced calls to a local server take a few milliseconds, paced ones 0.4 s.
    times = [call.time for call in zendesk_sim.calls]
    assert times[-1] - times[0] >= 0.3


def test_client_paces_to_the_limit_zendesk_announces(
    make_client: ClientFactory, zendesk_sim: ZendeskSimulator
) -> None:
    zendesk_sim.rate_limit_per_minute = 600  # X-Rate-Limit: 600
    client = make_client(requests_per_minute=100_000, burst_s=0)

    for _ in range(5):
        client.test_connection()

    times = [call.time for call in zendesk_sim.calls]  # paced once the first answer told
    assert times[-1] - times[1] >= 0.22  # three intervals of 0.1 s, less arrival jitter
    assert client.rate_limited == 0


def test_client_holds_back_when_zendesk_says_the_minute_is_spent(
    make_client: ClientFactory, zendesk_sim: ZendeskSimulator, zendesk_url: str
) -> None:
    zendesk_sim.rate_limit_per_minute = 3
    for _ in range(2):  # another integration spends two of the account's three
        httpx.get(
            f"{zendesk_url}/api/v2/users/me.json",
            auth=(f"{zendesk_sim.email}/token", zendesk_sim.api_token),
        ).raise_for_status()
    client = make_client(requests_per_minute=100_000, retry_after_cap_s=5)
    client.test_connection()  # X-Rate-Limit-Remaining: 0

    with pytest.raises(zendesk.ZendeskRateLimited) as raised:
        client.test_connection()

    assert raised.value.retry_after_s is not None and raised.value.retry_after_s > 5
    assert len(zendesk_sim.calls) == 3  # held back here, not answered 429 by Zendesk
    assert client.rate_limited == 0
