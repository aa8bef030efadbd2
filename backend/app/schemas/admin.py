"""Request and response models of the administrators' endpoints (`/admin`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.enums import UserRole
from app.schemas import NoNul

CREATED_AT = "2026-03-02T09:15:04Z"
ACCOUNT_EXAMPLE = {
    "id": 7,
    "email": "agent@example.com",
    "full_name": "Ada Agent",
    "role": "user",
    "is_active": True,
    "created_at": CREATED_AT,
    "ticket_count": 1284,
}


class AccountOut(BaseModel):
    """An account as administrators see it."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [ACCOUNT_EXAMPLE]}
    )

    id: int
    email: str
    full_name: str | None
    role: UserRole
    is_active: bool = Field(description="false: disabled (tokens and logins refused)")
    created_at: datetime
    ticket_count: int = Field(description="tickets stored for the account")


class AccountPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [ACCOUNT_EXAMPLE], "total": 1, "page": 1, "page_size": 50}]
        }
    )

    items: list[AccountOut]
    total: int
    page: int
    page_size: int


class AccountUpdate(BaseModel):
    """The fields to change; those left out keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"is_active": False}, {"role": "admin"}]},
    )

    role: UserRole | None = Field(default=None, description="`admin` or `user`")
    is_active: bool | None = Field(
        default=None,
        description="false disables the account: its tokens stop working (for good) and "
        "logins are refused; true enables it again",
    )


class AccountRemoval(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"confirm": "agent@example.com"}]}
    )

    confirm: Annotated[str, StringConstraints(max_length=320), NoNul] = Field(
        description="The account's email address, to confirm"
    )
