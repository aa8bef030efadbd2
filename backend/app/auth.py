"""Authentication dependencies: the bearer token scheme, the CurrentUser and AdminDep
aliases."""

from __future__ import annotations

from typing import Annotated

import jwt
from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from app.accounts import users
from app.config import get_settings
from app.core.security import decode_access_token, token_key_matches, user_id_of
from app.database import SessionDep
from app.enums import UserRole
from app.errors import Forbidden, Unauthorized
from app.models import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


def get_current_user(db: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]) -> User:
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
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_admin(user: CurrentUser) -> User:
    """The current user if they are an admin; 403 for everyone else."""
    if user.role != UserRole.admin:
        raise Forbidden("Administrators only: your account is not an admin")
    return user


AdminDep = Annotated[User, Depends(require_admin)]
