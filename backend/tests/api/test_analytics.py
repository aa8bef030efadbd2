"""GET /analytics/*: dashboard, trends, distributions and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User, utcnow
from tests.factories import UserFactory, create_analysed_ticket

MARCH = {"start": "2025-03-01T00:00:00Z", "end": "2025-03-15T00:00:00Z"}
BERLIN = ZoneInfo("Europe/Berlin")


def at(day: int, hour: int = 12, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


def get(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    response = client.get(f"/analytics/{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def items(distribution: dict[str, Any]) -> dict[str, tuple[int, float]]:
    return {item["label"]: (item["count"], item["percentage"]) for item in distribution["items"]}


def counts_by_day(points: list[dict[str, Any]]) -> dict[str, int]:
    return {point["period_start"]: point["tickets"] for point in points if point["tickets"]}


@pytest.fixture
def account(users: UserFactory) -> tuple[User, dict[str, str]]:
    return users.authed()


@pytest.fixture
def march_tickets(db: Session, account: tuple[User, dict[str, str]]) -> User:
    """8 analyses: 4 bug, 3 billing, 1 feature; costs 0.001..0.008; 100..800 ms."""
    user, _ = account
    labels = ["bug", "bug", "billing", "bug", "billing", "feature", "bug", "billing"]
    for index, category in enumerate(labels, start=1):
        create_analysed_ticket(
            db,
            user,
            created_at=at(index),
            category=category,
            urgency="high" if index <= 2 else "low",
            sentiment="negative" if index == 1 else "neutral",
            source="llm" if index % 2 else "local",
            cost_usd=f"0.00{index}",
            processing_time_ms=100 * index,
        )
    return user


def test_dashboard_reports_totals_distributions_and_percentages(
    client: TestClient, account: tuple[User, dict[str, str]], march_tickets: User
) -> None:
    _, headers = account
    body = get(client, headers, "dashboard", **MARCH)
    assert body["period"] == {**MARCH, "timezone": "UTC"}
    assert body["tickets"] == 8
    assert body["total_cost_usd"] == "0.036000"
    assert body["average_cost_usd"] == "0.004500"
    assert body["average_processing_time_ms"] == 450.0
    assert items(body["categories"]) == {
        "bug": (4, 50.0),
        "feature": (1, 12.5),
        "billing": (3, 37.5),
        "support": (0, 0.0),
        "other": (0, 0.0),
    }
    assert items(body["urgencies"]) == {"low": (6, 75.0), "medium": (0, 0.0), "high": (2, 25.0)}
    assert items(body["sentiments"])["negative"] == (1, 12.5)
    assert items(body["sources"])["llm"] == (4, 50.0)
    assert len(body["daily_trend"]) == 14
    assert counts_by_day(body["daily_trend"]) == {f"2025-03-0{day}": 1 for day in range(1, 9)}
    assert body["daily_trend"][2] == {
        "period_start": "2025-03-03",
        "tickets": 1,
        "total_cost_usd": "0.003000",
        "average_processing_time_ms": 300.0,
    }


def test_dashboard_in_another_time_zone_matches_the_rollups(
    client: TestClient, account: tuple[User, dict[str, str]], march_tickets: User
) -> None:
    """UTC (the user's zone) reads rollups; Berlin aggregates raw rows: same totals."""
    _, headers = account
    from_rollups = get(client, headers, "dashboard", **MARCH)
    from_raw = get(client, headers, "dashboard", tz="Europe/Berlin", **MARCH)
    for key in ("tickets", "total_cost_usd", "categories", "urgencies", "sentiments", "sources"):
        assert from_rollups[key] == from_raw[key], key


def test_recent_tickets_are_the_last_ten_with_their_analysis(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    user, headers = account
    for day in range(1, 13):
        create_analysed_ticket(
            db, user, created_at=at(day), zendesk_ticket_id=day, subject=f"Ticket {day}"
        )
    recent = get(client, headers, "dashboard", **MARCH)["recent_tickets"]
    assert [ticket["zendesk_ticket_id"] for ticket in recent] == list(range(12, 2, -1))
    assert recent[0] == {
        "zendesk_ticket_id": 12,
        "subject": "Ticket 12",
        "category": "bug",
        "urgency": "medium",
        "sentiment": "neutral",
        "confidence": 0.9,
        "source": "local",
        "summary": "The customer cannot log in.",
        "analysed_at": "2025-03-12T12:00:00Z",
    }


def test_processed_counts_today_this_week_and_this_month(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    user, headers = account
    now = utcnow()
    today = now.date()
    moments = [now, now - timedelta(days=1), now - timedelta(days=8), now - timedelta(days=40)]
    for moment in moments:
        create_analysed_ticket(db, user, created_at=moment)
    week_start = today - timedelta(days=today.weekday())
    expected = {
        "today": 1,
        "this_week": sum(1 for moment in moments if moment.date() >= week_start),
        "this_month": sum(1 for moment in moments if moment.date() >= today.replace(day=1)),
    }
    assert get(client, headers, "dashboard")["processed"] == expected
    assert get(client, headers, "dashboard", tz="Etc/UTC")["processed"] == expected  # raw rows


def test_defaults_are_the_last_thirty_days_in_the_users_time_zone(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    user, headers = account
    create_analysed_ticket(db, user)
    create_analysed_ticket(db, user, created_at=utcnow() - timedelta(days=10))
    create_analysed_ticket(db, user, created_at=utcnow() - timedelta(days=31))
    body = get(client, headers, "dashboard")
    start = datetime.fromisoformat(body["period"]["start"])
    end = datetime.fromisoformat(body["period"]["end"])
    assert end - start == timedelta(days=30)
    assert abs(end - utcnow()) < timedelta(minutes=1)
    assert body["period"]["timezone"] == "UTC"
    assert body["tickets"] == 2


def test_a_ticket_at_2330_utc_counts_on_the_next_day_in_berlin(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    user, headers = account
    create_analysed_ticket(db, user, created_at=at(10, 23, 30))
    in_utc = get(client, headers, "trends", **MARCH)
    in_berlin = get(client, headers, "trends", tz="Europe/Berlin", **MARCH)
    assert counts_by_day(in_utc["points"]) == {"2025-03-10": 1}
    assert counts_by_day(in_berlin["points"]) == {"2025-03-11": 1}
    assert in_berlin["period"]["timezone"] == "Europe/Berlin"


def test_days_follow_the_saved_time_zone_across_dst(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    """Berlin moves from +01:00 to +02:00 on 2025-03-30 at 01:00 UTC."""
    user, headers = account
    user.timezone = "Europe/Berlin"
    db.flush()
    create_analysed_ticket(db, user, created_at=at(29, 22, 59))  # 23:59 CET, 29th
    create_analysed_ticket(db, user, created_at=at(29, 23, 30))  # 00:30 CET, 30th
    create_analysed_ticket(db, user, created_at=at(30, 21, 59))  # 23:59 CEST, 30th
    create_analysed_ticket(db, user, created_at=at(30, 22, 30))  # 00:30 CEST, 31st
    period = {"start": "2025-03-25T00:00:00", "end": "2025-04-04T00:00:00"}  # Berlin time
    expected = {"2025-03-29": 1, "2025-03-30": 2, "2025-03-31": 1}
    from_rollups = get(client, headers, "trends", **period)
    assert from_rollups["period"]["start"] == "2025-03-24T23:00:00Z"
    assert counts_by_day(from_rollups["points"]) == expected
    from_raw = get(client, headers, "trends", tz="Europe/Berlin", **period)
    assert counts_by_day(from_raw["points"]) == expected
    as_seen_in_utc = counts_by_day(get(client, headers, "trends", tz="UTC", **period)["points"])
    assert as_seen_in_utc == {"2025-03-29": 2, "2025-03-30": 2}


def test_partial_days_at_both_ends_come_from_raw_rows(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    user, headers = account
    create_analysed_ticket(db, user, created_at=at(1, 9))  # before the start
    create_analysed_ticket(db, user, created_at=at(1, 18))
    create_analysed_ticket(db, user, created_at=at(5, 12))
    create_analysed_ticket(db, user, created_at=at(9, 6))
    create_analysed_ticket(db, user, created_at=at(9, 20))  # after the end
    body = get(client, headers, "dashboard", start="2025-03-01T12:00:00Z", end="2025-03-09T12:00Z")
    assert body["tickets"] == 3
    assert counts_by_day(body["daily_trend"]) == {"2025-03-01": 1, "2025-03-05": 1, "2025-03-09": 1}


def test_dashboard_totals_add_up_rollup_days_and_part_days_at_both_edges(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    """The dashboard sums its daily trend (whole days from the rollups, the part-days at the
    edges from the analyses): the same totals and labels the distribution reports count."""
    user, headers = account
    labelled = [
        (at(1, 9), "bug", "negative", "0.001"),  # before the start
        (at(1, 18), "billing", "negative", "0.002"),  # the first part-day
        (at(4, 10), "bug", "neutral", "0.004"),  # whole days
        (at(6, 23), "feature", "positive", "0.008"),
        (at(9, 6), "bug", "neutral", "0.016"),  # the last part-day
        (at(9, 20), "other", "neutral", "0.032"),  # after the end
    ]
    for created_at, category, sentiment, cost in labelled:
        create_analysed_ticket(
            db, user, created_at=created_at, category=category, sentiment=sentiment, cost_usd=cost
        )
    period = {"start": "2025-03-01T12:00:00Z", "end": "2025-03-09T12:00Z"}
    body = get(client, headers, "dashboard", **period)
    assert body["tickets"] == 4
    assert body["total_cost_usd"] == "0.030000"
    assert sum(point["tickets"] for point in body["daily_trend"]) == 4
    assert body["categories"] == get(client, headers, "categories", **period)["distribution"]
    assert body["sentiments"] == get(client, headers, "sentiments", **period)["distribution"]
    assert items(body["categories"])["bug"] == (2, 50.0)
    assert items(body["sentiments"])["negative"] == (1, 25.0)


def test_weekly_trend_buckets_start_on_monday(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    user, headers = account
    for day in (2, 3, 9, 10, 16):  # Sun 2nd, Mon 3rd, Sun 9th, Mon 10th, Sun 16th
        create_analysed_ticket(db, user, created_at=at(day), cost_usd="0.002")
    for tz in ("UTC", "Europe/Berlin"):
        body = get(client, headers, "trends", interval="week", tz=tz, **MARCH)
        assert body["interval"] == "week"
        points = {point["period_start"]: point for point in body["points"]}
        assert list(points) == ["2025-02-24", "2025-03-03", "2025-03-10"]
        assert [point["tickets"] for point in points.values()] == [1, 2, 1]
        assert points["2025-03-03"]["total_cost_usd"] == "0.004000"


def test_category_and_sentiment_distributions(
    client: TestClient, account: tuple[User, dict[str, str]], march_tickets: User
) -> None:
    _, headers = account
    categories = get(client, headers, "categories", **MARCH)
    assert categories["period"]["timezone"] == "UTC"
    assert categories["distribution"]["total"] == 8
    assert items(categories["distribution"])["billing"] == (3, 37.5)
    sentiments = get(client, headers, "sentiments", start="2025-03-01", end="2025-03-02")
    assert items(sentiments["distribution"]) == {
        "positive": (0, 0.0),
        "neutral": (0, 0.0),
        "negative": (1, 100.0),
    }


def test_accuracy_is_null_until_tickets_are_rated(
    client: TestClient, account: tuple[User, dict[str, str]], march_tickets: User
) -> None:
    _, headers = account
    accuracy = get(client, headers, "dashboard", **MARCH)["accuracy"]
    assert accuracy["rated_tickets"] == 0
    for name in ("category", "urgency", "sentiment"):
        assert accuracy[name] == {"rated": 0, "correct": 0, "accuracy": None}


def test_accuracy_counts_feedback_per_field(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    user, headers = account
    create_analysed_ticket(db, user, created_at=at(2), feedback_category="bug")
    create_analysed_ticket(db, user, created_at=at(3), feedback_category="billing")
    create_analysed_ticket(
        db, user, created_at=at(4), feedback_category="bug", feedback_urgency="medium"
    )
    create_analysed_ticket(db, user, created_at=at(5, 10), zendesk_ticket_id=77)
    create_analysed_ticket(db, user, created_at=at(20), feedback_category="other")  # outside
    response = client.post("/tickets/77/feedback", json={"urgency": "high"}, headers=headers)
    assert response.status_code == 200, response.text
    accuracy = get(client, headers, "dashboard", **MARCH)["accuracy"]
    assert accuracy == {
        "rated_tickets": 4,
        "category": {"rated": 3, "correct": 2, "accuracy": 0.6667},
        "urgency": {"rated": 2, "correct": 1, "accuracy": 0.5},
        "sentiment": {"rated": 0, "correct": 0, "accuracy": None},
    }


def test_export_streams_the_periods_analyses_as_csv(
    client: TestClient, db: Session, account: tuple[User, dict[str, str]]
) -> None:
    user, headers = account
    create_analysed_ticket(
        db,
        user,
        created_at=at(3, 8),
        zendesk_ticket_id=31,
        subject='Refund, "urgent"',
        category="billing",
        urgency="high",
        sentiment="negative",
        source="llm",
        confidence=0.75,
        cost_usd="0.0125",
        processing_time_ms=840,
        feedback_category="billing",
        feedback_sentiment="neutral",
    )
    create_analysed_ticket(db, user, created_at=at(2), zendesk_ticket_id=22, subject="=1+1")
    create_analysed_ticket(db, user, created_at=at(20), zendesk_ticket_id=99)  # outside
    response = client.get("/analytics/export.csv", params=MARCH, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["zendesk_ticket_id"] for row in rows] == ["22", "31"]
    assert rows[0]["subject"] == "'=1+1"  # never a live spreadsheet formula
    assert rows[1] == {
        "zendesk_ticket_id": "31",
        "subject": 'Refund, "urgent"',
        "category": "billing",
        "urgency": "high",
        "sentiment": "negative",
        "confidence": "0.75",
        "source": "llm",
        "cost_usd": "0.012500",
        "processing_time_ms": "840",
        "analysed_at": "2025-03-03T08:00:00+00:00",
        "feedback_category": "billing",
        "feedback_urgency": "",
        "feedback_sentiment": "neutral",
        "feedback_at": "2025-03-03T08:00:00+00:00",
    }


def test_export_of_an_empty_period_is_just_the_header(
    client: TestClient, account: tuple[User, dict[str, str]]
) -> None:
    _, headers = account
    response = client.get("/analytics/export.csv", params=MARCH, headers=headers)
    assert response.status_code == 200
    assert response.text.splitlines() == [
        "zendesk_ticket_id,subject,category,urgency,sentiment,confidence,source,cost_usd,"
        "processing_time_ms,analysed_at,feedback_category,feedback_urgency,"
        "feedback_sentiment,feedback_at"
    ]


def test_another_users_rows_are_never_counted(
    client: TestClient,
    db: Session,
    users: UserFactory,
    account: tuple[User, dict[str, str]],
    march_tickets: User,
) -> None:
    _, headers = account
    other, other_headers = users.authed()
    for day in range(1, 6):
        create_analysed_ticket(
            db, other, created_at=at(day), category="support", feedback_category="bug"
        )
    create_analysed_ticket(db, other)
    mine = get(client, headers, "dashboard", **MARCH)
    assert mine["tickets"] == 8
    assert items(mine["categories"])["support"] == (0, 0.0)
    assert mine["accuracy"]["rated_tickets"] == 0
    assert mine["processed"]["today"] == 0
    assert len(mine["recent_tickets"]) == 8
    assert get(client, headers, "dashboard", tz="Asia/Tokyo", **MARCH)["tickets"] == 8
    csv_rows = client.get("/analytics/export.csv", params=MARCH, headers=headers).text
    assert len(csv_rows.splitlines()) == 1 + 8
    theirs = get(client, other_headers, "categories", **MARCH)["distribution"]
    assert items(theirs)["support"] == (5, 100.0)


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("dashboard", {"start": "2025-03-10", "end": "2025-03-01"}, "start must not be after end"),
        ("trends", {"start": "2024-01-01", "end": "2025-03-01"}, "more than 366 days"),
        ("export.csv", {"start": "2024-01-01T00:00:00Z"}, "more than 366 days"),
        (
            "categories",
            {"tz": "Mars/Olympus_Mons"},
            "tz: 'Mars/Olympus_Mons' is not an IANA time zone such as 'Europe/Berlin'",
        ),
        ("sentiments", {"tz": "../etc/passwd"}, "is not an IANA time zone"),
        ("trends", {"interval": "month"}, "interval"),
        ("dashboard", {"start": "yesterday"}, "start"),
    ],
)
def test_bad_input_is_a_422_with_a_clear_message(
    client: TestClient,
    account: tuple[User, dict[str, str]],
    path: str,
    params: dict[str, str],
    message: str,
) -> None:
    _, headers = account
    response = client.get(f"/analytics/{path}", params=params, headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert message in error["message"]


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posixrules", "Mars/Olympus_Mons"])
def test_tz_rejects_the_zones_settings_rejects_with_the_same_message(
    client: TestClient, account: tuple[User, dict[str, str]], zone: str
) -> None:
    """localtime and the like depend on the server's configuration, so neither the saved
    time zone nor an analytics period may be in one of them."""
    _, headers = account
    saved = client.put("/settings/", json={"timezone": zone}, headers=headers)
    assert saved.status_code == 422, saved.text
    expected = saved.json()["error"]["details"][0]["msg"]
    assert expected == f"{zone!r} is not an IANA time zone such as 'Europe/Berlin'"
    for path in ("dashboard", "trends", "categories", "sentiments", "export.csv"):
        response = client.get(f"/analytics/{path}", params={"tz": zone}, headers=headers)
        assert response.status_code == 422, (path, response.text)
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["message"] == f"tz: {expected}"
        assert error["details"] == [{"loc": ["query", "tz"], "msg": expected, "type": "time_zone"}]


def test_a_full_year_is_allowed(client: TestClient, account: tuple[User, dict[str, str]]) -> None:
    _, headers = account
    body = get(client, headers, "trends", start="2024-03-01", end="2025-03-02", interval="week")
    assert len(body["points"]) == 53


def test_analytics_need_a_token(client: TestClient) -> None:
    for path in ("dashboard", "trends", "categories", "sentiments", "export.csv"):
        assert client.get(f"/analytics/{path}").status_code == 401


ANALYTICS_PATHS = [
    "/analytics/dashboard",
    "/analytics/trends",
    "/analytics/categories",
    "/analytics/sentiments",
    "/analytics/export.csv",
    "/analytics/cost",
]


@pytest.mark.parametrize("path", ANALYTICS_PATHS)
@pytest.mark.parametrize(
    "params",
    [
        {"end": "0001-01-02T00:00:00Z"},  # the default start would be before year 1
        {"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T23:59:59Z"},
        {"start": "0001-01-01T00:00:00", "end": "0001-01-03T00:00:00", "tz": "Asia/Tokyo"},
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_422_not_500(
    client: TestClient, users: UserFactory, path: str, params: dict[str, str]
) -> None:
    _, headers = users.authed()
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 422
    assert "outside the supported range" in response.json()["error"]["message"]
