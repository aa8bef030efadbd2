"""Registration, login (OAuth2 password form), the current user, password change and
account deletion."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from app.accounts import users
from app.api.deps import UNAUTHORIZED
from app.auth import CheckedUser, CurrentUser
from app.config import get_settings
from app.core.rate_limit import LoginAttempt, LoginRateLimiter
from app.core.security import create_access_token, verify_password
from app.database import SessionDep
from app.errors import Forbidden, Unauthorized, Unprocessable
from app.models import User
from app.schemas import AccountDeletion, ErrorResponse, PasswordChange, Token, UserCreate, UserOut

router = APIRouter(prefix="/auth", tags=["auth"])

TOO_MANY_TRIES = {
    429: {"model": ErrorResponse, "description": "Too many failed tries; see Retry-After"}
}
WRONG_PASSWORD = {403: {"model": ErrorResponse, "description": "The password is not correct"}}


def login_limiter(request: Request) -> LoginRateLimiter:
    return request.app.state.login_limiter  # type: ignore[no-any-return]


LoginLimiterDep = Annotated[LoginRateLimiter, Depends(login_limiter)]


def client_address(request: Request) -> str | None:
    """The peer, or the client a trusted proxy names (see ProxyHeadersMiddleware)."""
    return request.client.host if request.client else None


LoginForm = Annotated[OAuth2PasswordRequestForm, Depends()]


async def login_attempt(
    form: LoginForm, limiter: LoginLimiterDep, request: Request
) -> LoginAttempt:
    """Count the try (429 over a limit), then wait as long as the email's recent failures
    ask: on the event loop, so a flood of slowed tries holds no thread."""
    attempt = await run_in_threadpool(
        limiter.check, email=form.username, client_address=client_address(request)
    )
    if attempt.delay_s > 0:
        await asyncio.sleep(attempt.delay_s)
    return attempt


def issue_token(user: User) -> Token:
    settings = get_settings()
    lifetime = timedelta(minutes=settings.access_token_expire_minutes)
    token = create_access_token(
        str(user.id),
        token_key=user.token_key,
        secret_key=settings.secret_key,
        expires_delta=lifetime,
    )
    return Token(access_token=token, expires_in=int(lifetime.total_seconds()))


def check_password(limiter: LoginRateLimiter, request: Request, user: User, password: str) -> None:
    """The account's password, counted against the same limits as a login."""
    attempt = limiter.check(email=user.email, client_address=client_address(request))
    if not verify_password(password, user.hashed_password):
        raise Forbidden("The password is not correct")
    limiter.succeeded(attempt)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={409: {"model": ErrorResponse, "description": "Email already registered"}},
)
def register(body: UserCreate, db: SessionDep) -> UserOut:
    user = users.create_user(
        db=db, email=body.email, password=body.password, full_name=body.full_name
    )
    return UserOut.model_validate(user)


@router.post("/login", response_model=Token, responses={**UNAUTHORIZED, **TOO_MANY_TRIES})
def login(
    form: LoginForm,
    attempt: Annotated[LoginAttempt, Depends(login_attempt)],
    db: SessionDep,
    limiter: LoginLimiterDep,
) -> Token:
    """Exchange email (as `username`) and password for a bearer token.

    Failed tries are limited per (email, client address) pair and per client address, a
    minute's window each (429 with Retry-After); many failures on one email from anywhere
    make its logins slower, never refused."""
    user = users.authenticate(db=db, email=form.username, password=form.password)
    if user is None:
        raise Unauthorized("Incorrect email or password")
    limiter.succeeded(attempt)
    return issue_token(user)


@router.get("/me", response_model=UserOut, responses=UNAUTHORIZED)
def me(user: CheckedUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post(
    "/password",
    response_model=Token,
    responses={**UNAUTHORIZED, **WRONG_PASSWORD, **TOO_MANY_TRIES},
)
def change_password(
    body: PasswordChange,
    user: CurrentUser,
    db: SessionDep,
    limiter: LoginLimiterDep,
    request: Request,
) -> Token:
    """Change your password. Every token issued before stops working; use the new one
    returned here."""
    check_password(limiter, request, user, body.current_password)
    users.change_password(db=db, user=user, new_password=body.new_password)
    return issue_token(user)


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        **UNAUTHORIZED,
        **WRONG_PASSWORD,
        **TOO_MANY_TRIES,
        422: {"model": ErrorResponse, "description": "`confirm` is not your email address"},
    },
)
def delete_me(
    body: AccountDeletion,
    user: CurrentUser,
    db: SessionDep,
    limiter: LoginLimiterDep,
    request: Request,
) -> Response:
    """Delete your account and all its data: settings, tickets, analyses, processing logs,
    batch jobs, labels and models. `confirm` must be your email address."""
    if users.normalize_email(body.confirm) != user.email:
        raise Unprocessable("confirm: must be your email address")
    check_password(limiter, request, user, body.password)
    users.delete_account(db=db, user=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
