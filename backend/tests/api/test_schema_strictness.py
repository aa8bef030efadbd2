"""The OpenAPI document and the validation say the same, strictly: `tz` lists the accepted
time zones, a number is not a date, and a POST-only path answers GET with 405."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.time_zones import user_time_zones
from tests.factories import UserFactory

PERIOD_PATHS = [
    "/analytics/dashboard",
    "/analytics/trends",
    "/analytics/categories",
    "/analytics/sentiments",
    "/analytics/export.csv",
    "/analytics/cost",
]


def parameter(schema: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    operation = schema["paths"][path]["get"]
    return next(p for p in operation["parameters"] if p["name"] == name)


@pytest.mark.parametrize("path", PERIOD_PATHS)
def test_tz_is_an_enum_of_the_accepted_time_zones(client: TestClient, path: str) -> None:
    schema = client.get("/openapi.json").json()
    tz = parameter(schema, path, "tz")["schema"]
    assert sorted(tz["enum"]) == sorted(user_time_zones())
    assert {"Europe/Berlin", "UTC", "Asia/Tokyo"} <= set(tz["enum"])
    assert "localtime" not in tz["enum"]


@pytest.mark.parametrize("value", ["0.5", "0", "1700000000", "-3", "1e9", " 42 "])
@pytest.mark.parametrize(
    ("path", "name"),
    [("/analytics/dashboard", "end"), ("/analytics/trends", "start"), ("/tickets/", "end")],
)
def test_a_number_is_not_a_date(
    client: TestClient, users: UserFactory, path: str, name: str, value: str
) -> None:
    _, headers = users.authed()
    response = client.get(path, params={name: value}, headers=headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith(f"{name}: ")
    assert "ISO 8601" in error["message"] and "not a number" in error["message"]


@pytest.mark.parametrize("value", ["2025-03-01", "2025-03-01T08:00:00Z", "2025-03-01T08:00"])
def test_iso_dates_are_still_accepted(client: TestClient, users: UserFactory, value: str) -> None:
    _, headers = users.authed()
    for path in ("/analytics/dashboard", "/tickets/"):
        response = client.get(path, params={"start": value, "end": "2025-03-09"}, headers=headers)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/tickets/process", "/tickets/process-batch"])
def test_get_on_a_post_only_path_is_405_with_allow(
    client: TestClient, users: UserFactory, path: str
) -> None:
    _, headers = users.authed()
    for headers_ in (headers, {}):
        response = client.get(path, headers=headers_)
        assert response.status_code == 405, response.text
        assert response.headers["allow"] == "POST"
        assert response.json()["error"]["code"] == "method_not_allowed"
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"][path]) == {"post"}
