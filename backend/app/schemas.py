"""Pydantic request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints


def _reject_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


SafeStr = Annotated[str, AfterValidator(_reject_nul)]
Password = Annotated[
    SafeStr, StringConstraints(min_length=8, max_length=1024), Field(examples=["s3cret-pass"])
]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, object]] | dict[str, object] | None = None
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class UserCreate(BaseModel):
    email: EmailStr
    password: Password
    full_name: Annotated[SafeStr, StringConstraints(max_length=200)] | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str | None
    timezone: str
    created_at: datetime


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Lifetime in seconds")


class HealthStatus(BaseModel):
    status: str


class ReadinessStatus(BaseModel):
    status: str
    checks: dict[str, str]
