"""User accounts: registration, authentication, lookup, password change and deletion."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts import token_cache
from app.core.security import dummy_password_hash, hash_password, verify_password
from app.errors import Conflict
from app.models import User, new_token_key


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_by_email(*, db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalize_email(email)))


def get_by_id(*, db: Session, user_id: int) -> User | None:
    return db.get(User, user_id)


def create_user(*, db: Session, email: str, password: str, full_name: str | None = None) -> User:
    email = normalize_email(email)
    if get_by_email(db=db, email=email) is not None:
        raise Conflict("A user with this email already exists")
    user = User(email=email, hashed_password=hash_password(password), full_name=full_name)
    db.add(user)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("A user with this email already exists") from exc
    return user


def authenticate(*, db: Session, email: str, password: str) -> User | None:
    """The user if the credentials match; None otherwise, in the same time either way."""
    user = get_by_email(db=db, email=email)
    if user is None:
        verify_password(password, dummy_password_hash())
        return None
    if not verify_password(password, user.hashed_password) or not user.is_active:
        return None
    return user


def change_password(*, db: Session, user: User, new_password: str) -> None:
    """Store the new password and a new token key, so every token issued before stops
    working (the caller checked the current password)."""
    user.hashed_password = hash_password(new_password)
    user.token_key = new_token_key()
    db.flush()


def delete_account(*, db: Session, user: User) -> None:
    """Delete the user and, through the foreign keys' ON DELETE CASCADE, everything that is
    theirs: settings, tickets, analyses, logs, jobs, webhook deliveries, labels and models."""
    user_id = user.id
    db.expunge(user)
    db.execute(delete(User).where(User.id == user_id))
    token_cache.forget_user(user_id)
