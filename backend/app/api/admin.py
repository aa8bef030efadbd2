"""Administrators' endpoints: every account, its role and state, and deleting it.

Only for accounts whose role is `admin` (401 without a token, 403 for everyone else). The
last active admin can be neither demoted, disabled nor deleted (409)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from app.accounts import admin, users
from app.api.deps import NOT_FOUND, UNAUTHORIZED
from app.auth import AdminDep
from app.database import SessionDep
from app.errors import Unprocessable
from app.schemas import ErrorResponse
from app.schemas.admin import AccountOut, AccountPage, AccountRemoval, AccountUpdate

router = APIRouter(prefix="/admin", tags=["admin"])

NOT_ADMIN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "Your account is not an admin"}
}
LAST_ADMIN: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorResponse,
        "description": "The account is the last active admin (code `last_admin`)",
    }
}


@router.get("/users", response_model=AccountPage, responses={**UNAUTHORIZED, **NOT_ADMIN})
def list_users(
    _admin: AdminDep,
    db: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AccountPage:
    """Every account, oldest first: role, whether it is active, when it was created and how
    many tickets it holds."""
    accounts, total = admin.list_accounts(db=db, page=page, page_size=page_size)
    return AccountPage(
        items=[AccountOut.model_validate(account) for account in accounts],
        total=total,
        page=page,
        page_size=page_size,
    )


@router.patch(
    "/users/{user_id}",
    response_model=AccountOut,
    responses={**UNAUTHORIZED, **NOT_ADMIN, **NOT_FOUND, **LAST_ADMIN},
)
def update_user(user_id: int, body: AccountUpdate, _admin: AdminDep, db: SessionDep) -> AccountOut:
    """Change an account's role (`admin`, `user`) or disable (`is_active: false`) or enable
    it. A disabled account's tokens stop working for good (at once on this API process, within
    AUTH_CACHE_SECONDS, 5 s, on the others) and its logins are refused with a message saying
    it is disabled."""
    user = admin.get_account(db=db, user_id=user_id)
    if body.role is not None:
        admin.set_role(db=db, user=user, role=body.role)
    if body.is_active is not None:
        admin.set_active(db=db, user=user, active=body.is_active)
    return AccountOut.model_validate(admin.account_summary(db=db, user=user))


@router.delete(
    "/users/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        **UNAUTHORIZED,
        **NOT_ADMIN,
        **NOT_FOUND,
        **LAST_ADMIN,
        422: {"model": ErrorResponse, "description": "`confirm` is not the account's email"},
    },
)
def delete_user(user_id: int, body: AccountRemoval, _admin: AdminDep, db: SessionDep) -> Response:
    """Delete an account and all its data (settings, tickets, analyses, processing logs,
    batch jobs, labels and models), as `DELETE /auth/me` does. `confirm` must be the
    account's email address."""
    user = admin.get_account(db=db, user_id=user_id)
    if users.normalize_email(body.confirm) != user.email:
        raise Unprocessable("confirm: must be the account's email address")
    admin.delete_account(db=db, user=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
