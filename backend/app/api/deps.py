"""Shared router dependencies and OpenAPI response declarations."""

from typing import Annotated, Any

from fastapi import Depends, Request

from app.config import Settings
from app.schemas import ErrorResponse


def get_app_settings(request: Request) -> Settings:
    """The settings the application was created with (`create_app(settings)`)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing, invalid or expired token"}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Not found"}
}
