"""User accounts: registration, authentication, lookup, password change and deletion."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts import token_cache
from app.core.security import dummy_password_hash, hash_password, verify_password
from app.enums import UserRole
from app.errors import Conflict, Forbidden
from app.models import User, new_token_key

ACCOUNT_DISABLED = "This account is disabled; ask an administrator to enable it"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_by_email(*, db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalize_email(email)))


def get_by_id(*, db: Session, user_id: int) -> User | None:
    return db.get(User, user_id)


def create_user(
    *,
    db: Session,
    email: str,
    password: str,
    full_name: str | None = None,
    role: UserRole = UserRole.user,
) -> User:
    email = normalize_email(email)
    if get_by_email(db=db, email=email) is not None:
        raise Conflict("A user with this email already exists")
    user = User(
        email=email, hashed_password=hash_password(password), full_name=full_name, role=role
    )
    db.add(user)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("A user with this email already exists") from exc
    return user


def authenticate(*, db: Session, email: str, password: str) -> User | None:
    """The user if the credentials match; None otherwise, in the same time either way. A
    disabled account with the right password is refused with a message saying so (403)."""
    user = get_by_email(db=db, email=email)
    if user is None:
        verify_password(password, dummy_password_hash())
        return None
    if not verify_password(password, user.hashed_password):
        return None
    if not user.is_active:
        raise Forbidden(ACCOUNT_DISABLED, code="account_disabled")
    return user


def change_password(*, db: Session, user: User, new_password: str) -> None:
    """Store the new password and a new token key, so every token issued before stops
    working (the caller checked the current password)."""
    user.hashed_password = hash_password(new_password)
    user.token_key = new_token_key()
    db.flush()


def refuse_removing_the_last_admin(*, db: Session, user: User, action: str) -> None:
    """Refuse (409) to demote, disable or delete `user` when it is the only active admin.
    The active admins' rows are locked (PostgreSQL) so two admins removing each other at
    once cannot both succeed; SQLite serialises writers."""
    if user.role != UserRole.admin or not user.is_active:
        return
    query = select(User.id).where(User.role == UserRole.admin, User.is_active.is_(True))
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    if not [admin_id for admin_id in db.scalars(query) if admin_id != user.id]:
        raise Conflict(
            f"Cannot {action} {user.email}: it is the last active admin; make another "
            "account an admin first",
            code="last_admin",
        )


def delete_account(*, db: Session, user: User) -> None:
    """Delete the user and, through the foreign keys' ON DELETE CASCADE, everything that is
    theirs: settings, tickets, analyses, logs, jobs, webhook deliveries, labels and models.
    The last active admin cannot be deleted (409)."""
    refuse_removing_the_last_admin(db=db, user=user, action="delete")
    user_id = user.id
    db.expunge(user)
    db.execute(delete(User).where(User.id == user_id))
    token_cache.forget_user(user_id)
