"""Managing accounts as an administrator: list them, change a role, disable or enable one,
delete one with its data. There is always at least one active admin once there was one: the
last can be neither demoted, disabled nor deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import users
from app.enums import UserRole
from app.errors import NotFound
from app.models import Ticket, User, new_token_key


@dataclass(frozen=True)
class AccountSummary:
    id: int
    email: str
    full_name: str | None
    role: UserRole
    is_active: bool
    created_at: datetime
    ticket_count: int


def list_accounts(*, db: Session, page: int, page_size: int) -> tuple[list[AccountSummary], int]:
    """One page of every account, oldest first, with how many tickets each holds; and the
    number of accounts. Tickets are counted for the page's accounts only (an index range
    per account), never for the whole table."""
    ticket_count = select(func.count(Ticket.id)).where(Ticket.user_id == User.id).scalar_subquery()
    rows = db.execute(
        select(User, ticket_count).order_by(User.id).offset((page - 1) * page_size).limit(page_size)
    ).all()
    total = db.scalar(select(func.count(User.id))) or 0
    return [_summary(user, int(count)) for user, count in rows], total


def _summary(user: User, ticket_count: int) -> AccountSummary:
    return AccountSummary(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        is_active=user.is_active,
        created_at=user.created_at,
        ticket_count=ticket_count,
    )


def account_summary(*, db: Session, user: User) -> AccountSummary:
    count = db.scalar(select(func.count(Ticket.id)).where(Ticket.user_id == user.id)) or 0
    return _summary(user, count)


def get_account(*, db: Session, user_id: int) -> User:
    user = users.get_by_id(db=db, user_id=user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


def set_role(*, db: Session, user: User, role: UserRole) -> None:
    if role == user.role:
        return
    if role != UserRole.admin:
        users.refuse_removing_the_last_admin(db=db, user=user, action="demote")
    user.role = role
    db.flush()


def set_active(*, db: Session, user: User, active: bool) -> None:
    """Disable (every token stops working and logins are refused) or enable an account.
    Disabling also revokes the tokens for good: enabling it again does not revive them."""
    if active == user.is_active:
        return
    if not active:
        users.refuse_removing_the_last_admin(db=db, user=user, action="disable")
        user.token_key = new_token_key()
    user.is_active = active
    db.flush()


def delete_account(*, db: Session, user: User) -> None:
    """Delete the account and all its data: the service behind DELETE /auth/me, which
    refuses the last active admin."""
    users.delete_account(db=db, user=user)
