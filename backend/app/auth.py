"""Authentication dependencies: the bearer token scheme, the CurrentUser, ReadingUser,
CheckedUser and AdminDep aliases."""

from __future__ import annotations

from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from app.accounts import users
from app.accounts.token_cache import TokenCache
from app.config import get_settings
from app.core.security import decode_access_token, token_key_matches, user_id_of
from app.database import SessionDep
from app.enums import UserRole
from app.errors import Forbidden, Unauthorized
from app.models import User
from app.reads import ReaderDep

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


def authenticate_token(db: Any, token: str | None) -> tuple[User, dict[str, Any]]:
    """The token's user and its decoded payload; Unauthorized unless the token is valid and
    its user active."""
    if not token:
        raise Unauthorized("Not authenticated")
    try:
        payload = decode_access_token(token, secret_key=get_settings().secret_key)
        user_id = user_id_of(payload)
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("Invalid or expired token") from exc
    user = users.get_by_id(db=db, user_id=user_id)
    if user is None:
        raise Unauthorized("Invalid or expired token")
    if not user.is_active:  # a genuine token (signature checked) of a disabled account
        raise Unauthorized(users.ACCOUNT_DISABLED, code="account_disabled")
    if not token_key_matches(payload, user.token_key):
        raise Unauthorized("Invalid or expired token")
    return user, payload


def get_current_user(db: Any, token: str | None) -> User:
    return authenticate_token(db, token)[0]


async def current_user(
    request: Request, db: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The request's user: from the app's token cache when the token was seen in the last
    few seconds (no query, no worker thread), else checked against the database."""
    cached = _cached_user(request, token)
    if cached is not None:
        return db.merge(cached, load=False)
    user, payload = await run_in_threadpool(authenticate_token, db, token)
    cache: TokenCache | None = getattr(request.app.state, "token_cache", None)
    if cache is not None and token:
        cache.put(token, user, float(payload["exp"]))
    return user


async def reading_user(
    request: Request, reader: ReaderDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The request's user for routes that only read: the token cache's own snapshot on a
    hit (not a copy merged into a session: merging cost about 5 % of a small read's
    instructions; the snapshot is shared and detached, so a route reads its column values
    and changes nothing through it), else checked through the route's reader (on
    PostgreSQL without a worker thread) and cached."""
    cached = _cached_user(request, token)
    if cached is not None:
        return cached
    user, payload = await reader.run(lambda db: authenticate_token(db, token))
    cache: TokenCache | None = getattr(request.app.state, "token_cache", None)
    if cache is not None and token:
        cache.put(token, user, float(payload["exp"]))
    return user


def _cached_user(request: Request, token: str | None) -> User | None:
    """The token cache's snapshot of the token's user, if it holds one."""
    cache: TokenCache | None = getattr(request.app.state, "token_cache", None)
    return cache.get(token) if token and cache is not None else None


def checked_user(db: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]) -> User:
    """The request's user, always checked against the database (no cache)."""
    return get_current_user(db, token)


CurrentUser = Annotated[User, Depends(current_user)]
# For routes that only read the user's columns (id, role, time zone): the ticket list, a
# ticket, the summary and the analytics periods.
ReadingUser = Annotated[User, Depends(reading_user)]
# For GET /auth/me: "who am I" answers from the database, so it also tells a client whether
# the service can reach its database.
CheckedUser = Annotated[User, Depends(checked_user)]


def require_admin(user: CheckedUser) -> User:
    """The current user if they are an admin, checked against the database rather than the
    token cache (a demotion or a disabled account takes effect at once); 403 for everyone
    else."""
    if user.role != UserRole.admin:
        raise Forbidden("Administrators only: your account is not an admin")
    return user


AdminDep = Annotated[User, Depends(require_admin)]
