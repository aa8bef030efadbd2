"""The OpenAPI document explains itself: every tag has a description, and the main routes
show a request and a response example that are valid instances of their models."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from app.enums import ItemStatus, JobOrigin, JobState, StepStatus, UserRole, WriteBack
from app.schemas import (
    AccountDeletion,
    BatchRequest,
    JobOut,
    PasswordChange,
    ProcessRequest,
    ProcessResponse,
    TicketPage,
    Token,
    UserCreate,
)
from app.schemas.admin import AccountOut, AccountPage, AccountRemoval, AccountUpdate
from app.schemas.analytics import Dashboard, FeedbackIn, FeedbackOut
from app.schemas.settings import SettingsOut, SettingsUpdate

# (method, path): whether its JSON request body and its 200 response show an example.
MAIN_ROUTES: dict[tuple[str, str], tuple[bool, bool]] = {
    ("post", "/auth/register"): (True, False),
    ("post", "/auth/login"): (False, True),
    ("post", "/auth/password"): (True, False),
    ("delete", "/auth/me"): (True, False),
    ("post", "/tickets/process"): (True, True),
    ("post", "/tickets/process-batch"): (True, True),
    ("get", "/tickets/"): (False, True),
    ("get", "/tickets/jobs/{job_id}"): (False, True),
    ("post", "/tickets/{ticket_id}/feedback"): (True, True),
    ("get", "/settings/"): (False, True),
    ("put", "/settings/"): (True, True),
    ("get", "/analytics/dashboard"): (False, True),
    ("get", "/admin/users"): (False, True),
    ("patch", "/admin/users/{user_id}"): (True, True),
    ("delete", "/admin/users/{user_id}"): (True, False),
}
MODELS_WITH_EXAMPLES: list[type[BaseModel]] = [
    UserCreate,
    PasswordChange,
    AccountDeletion,
    Token,
    ProcessRequest,
    ProcessResponse,
    TicketPage,
    BatchRequest,
    JobOut,
    FeedbackIn,
    FeedbackOut,
    SettingsUpdate,
    SettingsOut,
    Dashboard,
    AccountOut,
    AccountPage,
    AccountUpdate,
    AccountRemoval,
]


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def schema_examples(document: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("examples", []))


def test_every_tag_a_route_uses_is_described(document: dict[str, Any]) -> None:
    used = {
        tag
        for operations in document["paths"].values()
        for operation in operations.values()
        for tag in operation.get("tags", [])
    }
    described = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}

    assert used, "no operation is tagged"
    assert sorted(used - described.keys()) == []
    assert [name for name in used if len(described[name]) < 20] == []


@pytest.mark.parametrize(("method", "path"), list(MAIN_ROUTES))
def test_main_routes_show_request_and_response_examples(
    document: dict[str, Any], method: str, path: str
) -> None:
    operation = document["paths"][path][method]
    wants_request, wants_response = MAIN_ROUTES[(method, path)]

    if wants_request:
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema_examples(document, body), f"{method.upper()} {path}: no request example"
    if wants_response:
        ok = next(code for code in ("200", "201", "202") if code in operation["responses"])
        body = operation["responses"][ok]["content"]["application/json"]["schema"]
        assert schema_examples(document, body), f"{method.upper()} {path}: no response example"


@pytest.mark.parametrize("model", MODELS_WITH_EXAMPLES, ids=lambda model: model.__name__)
def test_examples_are_valid_instances_of_their_models(model: type[BaseModel]) -> None:
    examples = model.model_json_schema()["examples"]

    assert examples
    for example in examples:
        model.model_validate(example)
        assert sorted(example.keys() - model.model_fields.keys()) == []


@pytest.mark.parametrize(
    ("model", "field", "enum"),
    [
        ("JobOut", "state", JobState),
        ("JobOut", "origin", JobOrigin),
        ("JobItemOut", "status", ItemStatus),
        ("JobItemOut", "write_back", WriteBack),
        ("ProcessResponse", "write_back_status", WriteBack),
        ("ProcessingLogOut", "status", StepStatus),
        ("UserOut", "role", UserRole),
        ("AccountOut", "role", UserRole),
    ],
)
def test_state_fields_list_their_values(
    document: dict[str, Any], model: str, field: str, enum: type[StrEnum]
) -> None:
    schemas = document["components"]["schemas"]
    prop = schemas[model]["properties"][field]
    refs = [prop, *prop.get("anyOf", [])]
    listed = [
        value
        for ref in refs
        if "$ref" in ref
        for value in schemas[ref["$ref"].rsplit("/", 1)[-1]]["enum"]
    ]
    assert listed == [member.value for member in enum]
