"""Settings endpoints: the profile, integration settings, their status and connection tests.

Secrets are write-only: responses show whether each is set and a mask such as `sk-…abcd`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.accounts import settings_service
from app.api.deps import BUSY, PROCESSING_SLOT, UNAUTHORIZED, UnitOfWorkDep
from app.auth import CurrentUser
from app.database import SessionDep
from app.schemas import ErrorResponse
from app.schemas.settings import (
    IntegrationsStatus,
    OpenAITestResult,
    SettingsOut,
    SettingsUpdate,
    ZendeskTestResult,
)

router = APIRouter(prefix="/settings", tags=["settings"], responses=UNAUTHORIZED)

INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "A value is invalid (the message names it)"}
}
NOT_CONFIGURED: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorResponse,
        "description": "Not configured; `details.missing` names the settings to set",
    }
}
CONNECTION_TEST_NOTE = (
    " Uses the saved settings, a short timeout and no retries. An upstream failure (bad "
    "credentials, unreachable host) is still a 200: the test ran, `ok` is false and "
    "`detail` carries the upstream's message."
)


# Each collection route also answers without the trailing slash (hidden from the schema), so
# `PUT /settings` does what it says instead of a 307 that clients without -L ignore.
@router.get("/", response_model=SettingsOut)
@router.get("", response_model=SettingsOut, include_in_schema=False)
def read_settings(user: CurrentUser, db: SessionDep) -> SettingsOut:
    """Your profile and integration settings (secrets masked) and the webhook URL for Zendesk."""
    return settings_service.settings_view(db=db, user=user)


@router.put("/", response_model=SettingsOut, responses=INVALID)
@router.put("", response_model=SettingsOut, responses=INVALID, include_in_schema=False)
def update_settings(body: SettingsUpdate, user: CurrentUser, db: SessionDep) -> SettingsOut:
    """Change only the fields sent; `null` or `""` clears a secret."""
    return settings_service.update_settings(db=db, user=user, update=body)


@router.get("/integrations/status", response_model=IntegrationsStatus)
def integration_status(user: CurrentUser, db: SessionDep) -> IntegrationsStatus:
    """Per integration: configured, what processing uses (source) and the missing settings."""
    return settings_service.integration_status(db=db, user_id=user.id)


@router.post(
    "/zendesk/test",
    response_model=ZendeskTestResult,
    responses={**NOT_CONFIGURED, **BUSY},
    dependencies=[PROCESSING_SLOT],
    description="Sign in to Zendesk (GET /api/v2/users/me) and report the user and role."
    + CONNECTION_TEST_NOTE,
)
def zendesk_connection_test(user: CurrentUser, uow: UnitOfWorkDep) -> ZendeskTestResult:
    return settings_service.check_zendesk(uow=uow, user_id=user.id)


@router.post(
    "/openai/test",
    response_model=OpenAITestResult,
    responses={**NOT_CONFIGURED, **BUSY},
    dependencies=[PROCESSING_SLOT],
    description="Retrieve the chosen model (GET /v1/models/{model}) with the saved key."
    + CONNECTION_TEST_NOTE,
)
def openai_connection_test(user: CurrentUser, uow: UnitOfWorkDep) -> OpenAITestResult:
    return settings_service.check_openai(uow=uow, user_id=user.id)
