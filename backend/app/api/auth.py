"""Registration, login (OAuth2 password form) and the current user."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from app.accounts import users
from app.api.deps import UNAUTHORIZED
from app.auth import CurrentUser
from app.config import get_settings
from app.database import SessionDep
from app.errors import Unauthorized
from app.rate_limit import LoginRateLimiter
from app.schemas import ErrorResponse, Token, UserCreate, UserOut
from app.security import create_access_token

router = APIRouter(prefix="/auth", tags=["auth"])


def login_limiter(request: Request) -> LoginRateLimiter:
    return request.app.state.login_limiter  # type: ignore[no-any-return]


LoginLimiterDep = Annotated[LoginRateLimiter, Depends(login_limiter)]


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


@router.post(
    "/login",
    response_model=Token,
    responses={
        **UNAUTHORIZED,
        429: {"model": ErrorResponse, "description": "Too many failed tries; see Retry-After"},
    },
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: SessionDep,
    limiter: LoginLimiterDep,
    request: Request,
) -> Token:
    """Exchange email (as `username`) and password for a bearer token.

    Failed tries are limited per email and per client address (a minute's window)."""
    client_address = request.client.host if request.client else None
    attempt = limiter.check(email=form.username, client_address=client_address)
    user = users.authenticate(db=db, email=form.username, password=form.password)
    if user is None:
        raise Unauthorized("Incorrect email or password")
    limiter.succeeded(attempt)
    settings = get_settings()
    lifetime = timedelta(minutes=settings.access_token_expire_minutes)
    token = create_access_token(
        str(user.id), secret_key=settings.secret_key, expires_delta=lifetime
    )
    return Token(access_token=token, expires_in=int(lifetime.total_seconds()))


@router.get("/me", response_model=UserOut, responses=UNAUTHORIZED)
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)
