"""Password hashing and JWT helpers: pure functions, no FastAPI imports."""

from __future__ import annotations

import hmac
import os
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from passlib.context import CryptContext

JWT_ALGORITHM = "HS256"
MAX_USER_ID = 2**63 - 1  # a signed 64-bit integer: the widest id any supported database stores
_USER_ID = re.compile(r"[1-9][0-9]{0,18}")  # the plain decimal create_access_token is given


@lru_cache
def _password_context() -> CryptContext:
    """bcrypt_sha256 pre-hashes with SHA-256, so passwords longer than bcrypt's 72-byte limit
    are neither truncated nor rejected; plain bcrypt hashes still verify."""
    rounds = int(os.environ.get("BCRYPT_ROUNDS", "12"))
    return CryptContext(
        schemes=["bcrypt_sha256", "bcrypt"],
        deprecated="auto",
        bcrypt_sha256__rounds=rounds,
        bcrypt__rounds=rounds,
    )


def hash_password(password: str) -> str:
    return _password_context().hash(password)


def verify_password(password: str, hashed_password: str) -> bool:
    try:
        return _password_context().verify(password, hashed_password)
    except (ValueError, TypeError):
        return False


@lru_cache
def dummy_password_hash() -> str:
    """A hash to verify against when the email is unknown, so both paths cost the same."""
    return hash_password("not-a-real-password-timing-equaliser")


def create_access_token(
    subject: str,
    *,
    token_key: str,
    secret_key: str,
    expires_delta: timedelta,
    now: datetime | None = None,
) -> str:
    """`token_key` is the user's current key: the token is valid only while it is."""
    issued_at = now or datetime.now(UTC)
    payload = {
        "sub": subject,
        "tk": token_key,
        "iat": issued_at,
        "exp": issued_at + expires_delta,
        "typ": "access",
    }
    return jwt.encode(payload, secret_key, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, *, secret_key: str) -> dict[str, Any]:
    """Decode and verify; raises jwt.InvalidTokenError on any problem (expired, forged...)."""
    payload = jwt.decode(
        token,
        secret_key,
        algorithms=[JWT_ALGORITHM],
        options={"require": ["sub", "exp", "iat", "tk"]},
    )
    if payload.get("typ") != "access":
        raise jwt.InvalidTokenError("not an access token")
    return payload


def token_key_matches(payload: dict[str, Any], token_key: str) -> bool:
    """Whether the token was issued under the user's current key (constant time)."""
    presented = payload.get("tk")
    return isinstance(presented, str) and hmac.compare_digest(presented, token_key)


def user_id_of(payload: dict[str, Any]) -> int:
    """The user id a decoded token's `sub` names; raises jwt.InvalidTokenError unless it is a
    positive integer written as we issue it and small enough for an id column (a larger one
    names no user, and would overflow the lookup's query parameter)."""
    subject = payload.get("sub")
    if not isinstance(subject, str) or not _USER_ID.fullmatch(subject):
        raise jwt.InvalidTokenError("the subject is not a user id")
    user_id = int(subject)
    if user_id > MAX_USER_ID:
        raise jwt.InvalidTokenError("the subject is not a user id")
    return user_id
