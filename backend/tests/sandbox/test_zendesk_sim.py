"""The Zendesk simulator over HTTP: shapes, pagination, search, tag semantics, jobs, faults."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sandbox.make_seed import DEFAULT_OUT, build_seed
from sandbox.zendesk import ZendeskSimulator, parse_iso


def wait_for_job(http: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = http.get(f"/api/v2/job_statuses/{job_id}.json").json()["job_status"]
        if status["status"] == "completed":
            return status
        time.sleep(0.02)
    raise AssertionError("job did not complete")


def search_ids(http: httpx.Client, query: str) -> set[int]:
    found: set[int] = set()
    page = 1
    while True:
        data = http.get("/api/v2/search.json", params={"query": query, "page": page}).json()
        found |= {result["id"] for result in data["results"]}
        if not data["next_page"]:
            return found
        page += 1


# --- seed ----------------------------------------------------------------------------------


def test_seed_file_matches_generator_output() -> None:
    assert json.loads(DEFAULT_OUT.read_text(encoding="utf-8")) == build_seed()
    assert DEFAULT_OUT.stat().st_size < 1_000_000


def test_seed_has_at_least_200_tickets_with_zendesk_shape(zendesk_sim: ZendeskSimulator) -> None:
    assert len(zendesk_sim.tickets) >= 200
    ticket = zendesk_sim.ticket(1)
    for name in (
        "id", "url", "subject", "description", "status", "priority", "type", "tags",
        "requester_id", "assignee_id", "group_id", "custom_fields", "created_at", "updated_at",
    ):  # fmt: skip
        assert name in ticket
    assert ticket["created_at"].endswith("Z")
    assert parse_iso(ticket["updated_at"]) >= parse_iso(ticket["created_at"])
    assert zendesk_sim.ticket_comments(1)[0]["body"] == ticket["description"]
    statuses = {t["status"] for t in zendesk_sim.tickets.values()}
    assert statuses == {"new", "open", "pending", "hold", "solved", "closed"}


# --- reads ---------------------------------------------------------------------------------


def test_get_ticket_returns_ticket_envelope(http: httpx.Client, zendesk_url: str) -> None:
    response = http.get("/api/v2/tickets/7.json")

    assert response.status_code == 200
    ticket = response.json()["ticket"]
    assert ticket["id"] == 7
    assert ticket["url"] == f"{zendesk_url}/api/v2/tickets/7.json"


def test_missing_ticket_is_record_not_found(http: httpx.Client) -> None:
    response = http.get("/api/v2/tickets/999999.json")

    assert response.status_code == 404
    assert response.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_show_many_omits_missing_ids(http: httpx.Client) -> None:
    data = http.get("/api/v2/tickets/show_many.json", params={"ids": "3,999999,4"}).json()

    assert [ticket["id"] for ticket in data["tickets"]] == [3, 4]


def test_show_many_rejects_more_than_100_ids(http: httpx.Client) -> None:
    ids = ",".join(str(ticket_id) for ticket_id in range(1, 102))

    response = http.get("/api/v2/tickets/show_many.json", params={"ids": ids})

    assert response.status_code == 400
    assert response.json()["error"] == "TooManyValues"


def test_list_tickets_cursor_pagination_visits_every_ticket_once(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    seen: list[int] = []
    params: dict[str, Any] = {"page[size]": 100}
    pages = 0
    while True:
        data = http.get("/api/v2/tickets.json", params=params).json()
        pages += 1
        seen += [ticket["id"] for ticket in data["tickets"]]
        if not data["meta"]["has_more"]:
            assert data["links"]["next"] is None
            break
        assert "page%5Bafter%5D" in data["links"]["next"]
        params = {"page[size]": 100, "page[after]": data["meta"]["after_cursor"]}

    assert seen == sorted(zendesk_sim.tickets)
    assert pages == -(-len(zendesk_sim.tickets) // 100)


def test_cursor_page_size_over_100_is_rejected(http: httpx.Client) -> None:
    response = http.get("/api/v2/tickets.json", params={"page[size]": 101})

    assert response.status_code == 400
    assert response.json()["error"] == "InvalidPaginationParameter"


def test_comments_list_first_comment_and_private_notes(http: httpx.Client) -> None:
    http.put(
        "/api/v2/tickets/12.json",
        json={"ticket": {"comment": {"body": "internal only", "public": False}}},
    )

    comments = http.get("/api/v2/tickets/12/comments.json").json()["comments"]

    assert comments[-1]["body"] == "internal only"
    assert comments[-1]["public"] is False


def test_users_me_returns_authenticated_user(http: httpx.Client) -> None:
    user = http.get("/api/v2/users/me.json").json()["user"]

    assert user["email"] == "agent@example.com"
    assert user["role"] == "admin"


# --- search --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("type:ticket status:open", lambda t: t["status"] == "open"),
        (
            "type:ticket status<solved",
            lambda t: t["status"] in {"new", "open", "pending", "hold"},
        ),
        ("tags:vip", lambda t: "vip" in t["tags"]),
        (
            "created>2026-11-01",
            lambda t: parse_iso(t["created_at"]) >= datetime(2026, 11, 2, tzinfo=UTC),
        ),
        (
            "type:ticket status:new -tags:billing",
            lambda t: t["status"] == "new" and "billing" not in t["tags"],
        ),
    ],
)
def test_search_filters_match_stored_tickets(
    http: httpx.Client, zendesk_sim: ZendeskSimulator, query: str, predicate: Any
) -> None:
    expected = {ticket_id for ticket_id, t in zendesk_sim.tickets.items() if predicate(t)}

    assert expected
    assert search_ids(http, query) == expected


def test_search_free_text_matches_subject_and_comments(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    created = zendesk_sim.create_ticket("Printer on fire", "The zorblax module is smoking")

    assert search_ids(http, "zorblax") == {created["id"]}
    assert search_ids(http, '"printer on fire"') == {created["id"]}


def test_search_past_1000_results_is_422(http: httpx.Client) -> None:
    response = http.get("/api/v2/search.json", params={"query": "type:ticket", "page": 11})

    assert response.status_code == 422


def test_search_export_paginates_with_cursor_and_requires_filter_type(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    assert (
        http.get("/api/v2/search/export.json", params={"query": "status:open"}).status_code == 400
    )
    seen: list[int] = []
    params: dict[str, Any] = {"query": "status<solved", "filter[type]": "ticket", "page[size]": 50}
    while True:
        data = http.get("/api/v2/search/export.json", params=params).json()
        seen += [result["id"] for result in data["results"]]
        if not data["meta"]["has_more"]:
            break
        params["page[after]"] = data["meta"]["after_cursor"]

    expected = {
        i for i, t in zendesk_sim.tickets.items() if t["status"] not in {"solved", "closed"}
    }
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


def test_new_tickets_reach_search_after_the_index_delay(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    zendesk_sim.search_index_delay_s = 0.3
    zendesk_sim.create_ticket("Quokka invoice", "quokka")

    assert search_ids(http, "quokka") == set()
    time.sleep(0.35)
    assert len(search_ids(http, "quokka")) == 1


# --- writes --------------------------------------------------------------------------------


def test_put_tags_replaces_all_tags(http: httpx.Client, zendesk_sim: ZendeskSimulator) -> None:
    response = http.put("/api/v2/tickets/5.json", json={"ticket": {"tags": ["only_this"]}})

    assert response.status_code == 200
    assert zendesk_sim.ticket(5)["tags"] == ["only_this"]
    events = response.json()["audit"]["events"]
    assert events[0]["field_name"] == "tags"


def test_private_comment_is_stored_as_internal_note(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    before_tags = zendesk_sim.ticket(6)["tags"]

    response = http.put(
        "/api/v2/tickets/6.json",
        json={"ticket": {"comment": {"body": "AI triage: bug", "public": False}}},
    )

    assert response.status_code == 200
    note = zendesk_sim.ticket_comments(6)[-1]
    assert (note["body"], note["public"]) == ("AI triage: bug", False)
    assert zendesk_sim.ticket(6)["tags"] == before_tags
    assert response.json()["audit"]["events"][0]["type"] == "Comment"


def test_additional_tags_on_single_update_are_ignored_by_default(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    before = zendesk_sim.ticket(8)["tags"]

    http.put("/api/v2/tickets/8.json", json={"ticket": {"additional_tags": ["extra"]}})
    assert zendesk_sim.ticket(8)["tags"] == before

    zendesk_sim.accept_undocumented_additional_tags = True
    http.put("/api/v2/tickets/8.json", json={"ticket": {"additional_tags": ["extra"]}})
    assert zendesk_sim.ticket(8)["tags"] == [*before, "extra"]


def test_tags_endpoint_adds_without_dropping_existing(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    before = zendesk_sim.ticket(9)["tags"]

    response = http.put("/api/v2/tickets/9/tags.json", json={"tags": ["triage_bug", before[0]]})

    assert response.json() == {"tags": [*before, "triage_bug"]}


def test_tags_safe_update_with_stale_stamp_is_409(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    stale_stamp = "2020-01-01T00:00:00Z"

    response = http.put(
        "/api/v2/tickets/9/tags.json",
        json={"tags": ["x"], "safe_update": True, "updated_stamp": stale_stamp},
    )
    fresh = http.put(
        "/api/v2/tickets/9/tags.json",
        json={
            "tags": ["y"],
            "safe_update": True,
            "updated_stamp": zendesk_sim.ticket(9)["updated_at"],
        },
    )

    assert response.status_code == 409
    assert response.json()["error"] == "UpdateConflict"
    assert fresh.status_code == 200
    assert "x" not in zendesk_sim.ticket(9)["tags"]


def test_invalid_update_is_record_invalid_with_details(http: httpx.Client) -> None:
    response = http.put(
        "/api/v2/tickets/11.json",
        json={"ticket": {"status": "bogus", "comment": {"body": "  "}}},
    )

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "RecordInvalid"
    assert set(body["details"]) == {"status", "comment"}


def test_closed_ticket_cannot_be_updated(http: httpx.Client, zendesk_sim: ZendeskSimulator) -> None:
    closed_id = next(i for i, t in zendesk_sim.tickets.items() if t["status"] == "closed")

    response = http.put(
        f"/api/v2/tickets/{closed_id}.json", json={"ticket": {"comment": {"body": "hi"}}}
    )

    assert response.status_code == 422
    assert "closed" in response.json()["details"]["status"][0]["description"]


def test_update_many_bulk_adds_tags_when_the_job_completes(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    zendesk_sim.job_delay_s = 0.2
    before = {ticket_id: zendesk_sim.ticket(ticket_id)["tags"] for ticket_id in (1, 2)}

    response = http.put(
        "/api/v2/tickets/update_many.json",
        params={"ids": "1,2,999999"},
        json={"ticket": {"additional_tags": ["bulk_tag"]}},
    )

    job = response.json()["job_status"]
    assert (job["status"], job["total"], job["results"]) == ("queued", 3, None)
    assert "bulk_tag" not in zendesk_sim.ticket(1)["tags"]
    done = wait_for_job(http, job["id"])
    assert [(r["id"], r["success"]) for r in done["results"]] == [
        (1, True),
        (2, True),
        (999999, False),
    ]
    for ticket_id in (1, 2):
        assert zendesk_sim.ticket(ticket_id)["tags"] == [*before[ticket_id], "bulk_tag"]


def test_update_many_batch_form_posts_per_ticket_notes(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    tags_before = zendesk_sim.ticket(3)["tags"]
    response = http.put(
        "/api/v2/tickets/update_many.json",
        json={
            "tickets": [
                {"id": 3, "comment": {"body": "note 3", "public": False}, "additional_tags": ["x"]},
                {"id": 4, "comment": {"body": "note 4", "public": False}},
            ]
        },
    )

    wait_for_job(http, response.json()["job_status"]["id"])

    assert zendesk_sim.ticket_comments(3)[-1]["body"] == "note 3"
    assert zendesk_sim.ticket_comments(4)[-1]["body"] == "note 4"
    assert zendesk_sim.ticket(3)["tags"] == tags_before  # additional_tags not honoured here


def test_update_many_rejects_more_than_100_tickets(http: httpx.Client) -> None:
    response = http.put(
        "/api/v2/tickets/update_many.json",
        json={"tickets": [{"id": i, "status": "open"} for i in range(1, 102)]},
    )

    assert response.status_code == 400


def test_incremental_export_walks_to_end_of_stream(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    seen: list[int] = []
    params: dict[str, Any] = {"start_time": 0, "per_page": 100}
    while True:
        data = http.get("/api/v2/incremental/tickets/cursor.json", params=params).json()
        seen += [ticket["id"] for ticket in data["tickets"]]
        if data["end_of_stream"]:
            break
        params = {"cursor": data["after_cursor"], "per_page": 100}

    assert sorted(seen) == sorted(zendesk_sim.tickets)
    created = zendesk_sim.create_ticket("Later", "arrives after the export")
    data = http.get(
        "/api/v2/incremental/tickets/cursor.json", params={"cursor": data["after_cursor"]}
    ).json()
    assert [ticket["id"] for ticket in data["tickets"]] == [created["id"]]


# --- auth, limits, faults ------------------------------------------------------------------


def test_wrong_credentials_get_401(zendesk_url: str) -> None:
    response = httpx.get(
        f"{zendesk_url}/api/v2/users/me.json", auth=("agent@example.com/token", "wrong")
    )

    assert response.status_code == 401
    assert response.json() == {"error": "Couldn't authenticate you"}


def test_bearer_token_is_accepted(zendesk_url: str, zendesk_sim: ZendeskSimulator) -> None:
    response = httpx.get(
        f"{zendesk_url}/api/v2/users/me.json",
        headers={"Authorization": f"Bearer {zendesk_sim.oauth_token}"},
    )

    assert response.status_code == 200
    assert zendesk_sim.calls[-1].auth_scheme == "bearer"


def test_rate_limit_returns_plain_text_429_with_retry_after(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    zendesk_sim.rate_limit_per_minute = 3
    statuses = [http.get("/api/v2/users/me.json") for _ in range(4)]

    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    limited = statuses[-1]
    assert limited.text == "Too many requests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert statuses[0].headers["X-Rate-Limit"] == "3"
    assert statuses[1].headers["X-Rate-Limit-Remaining"] == "1"


def test_fail_next_injects_errors_for_matching_paths(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    zendesk_sim.fail_next(2, 503, path_contains="/tickets/")

    assert http.get("/api/v2/users/me.json").status_code == 200
    assert http.get("/api/v2/tickets/1.json").status_code == 503
    assert http.get("/api/v2/tickets/1.json").status_code == 503
    assert http.get("/api/v2/tickets/1.json").status_code == 200


def test_random_faults_are_deterministic(http: httpx.Client, zendesk_sim: ZendeskSimulator) -> None:
    def run() -> list[int]:
        zendesk_sim.reset()
        zendesk_sim.fault_5xx_rate = 0.3
        return [http.get("/api/v2/users/me.json").status_code for _ in range(30)]

    first = run()

    assert first == run()
    assert 3 <= first.count(503) <= 15


def test_hang_delays_the_answer(http: httpx.Client, zendesk_sim: ZendeskSimulator) -> None:
    zendesk_sim.hang_next(1, 0.3)
    started = time.monotonic()

    assert http.get("/api/v2/users/me.json").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_calls_are_recorded_without_credentials(
    http: httpx.Client, zendesk_sim: ZendeskSimulator
) -> None:
    http.put("/api/v2/tickets/2/tags.json", json={"tags": ["a"]})

    call = zendesk_sim.calls[-1]
    assert (call.method, call.path, call.json, call.status) == (
        "PUT",
        "/api/v2/tickets/2/tags.json",
        {"tags": ["a"]},
        200,
    )
    assert zendesk_sim.api_token not in repr(zendesk_sim.calls)


def test_unknown_endpoint_is_invalid_endpoint(http: httpx.Client) -> None:
    response = http.get("/api/v2/nothing_here.json")

    assert response.status_code == 404
    assert response.json()["error"] == "InvalidEndpoint"


def test_reset_restores_seed_state(http: httpx.Client, zendesk_sim: ZendeskSimulator) -> None:
    original = zendesk_sim.ticket(1)["tags"]
    http.put("/api/v2/tickets/1.json", json={"ticket": {"tags": ["changed"]}})
    zendesk_sim.latency_s = 1.0

    zendesk_sim.reset()

    assert zendesk_sim.ticket(1)["tags"] == original
    assert zendesk_sim.latency_s == 0.0
    assert zendesk_sim.calls == []
