"""Accounts: create a user or an admin, change a role, reset a password (which also revokes
the user's tokens)."""

from __future__ import annotations

import argparse
from typing import Any

from app.accounts import admin, users
from app.cli.common import CommandError, read_password, user_by_email
from app.database import session_scope
from app.enums import UserRole
from app.errors import AppError


def create_user(args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)
    try:
        with session_scope() as db:
            user = users.create_user(
                db=db,
                email=args.email,
                password=password,
                full_name=args.full_name,
                role=UserRole.admin if args.admin else UserRole.user,
            )
            user_id, email, role = user.id, user.email, user.role
    except AppError as exc:
        raise CommandError(exc.message) from exc
    print(f"created {role} {user_id} {email}")
    return 0


def set_role(args: argparse.Namespace) -> int:
    try:
        with session_scope() as db:
            user = user_by_email(db, args.email)
            before = user.role
            admin.set_role(db=db, user=user, role=UserRole(args.role))
            email = user.email
    except AppError as exc:
        raise CommandError(exc.message) from exc
    state = "unchanged" if before == args.role else f"was {before}"
    print(f"{email} is now {args.role} ({state})")
    return 0


def reset_password(args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)
    with session_scope() as db:
        user = user_by_email(db, args.email)
        users.change_password(db=db, user=user, new_password=password)
        email = user.email
    print(f"password reset for {email}; tokens issued before no longer work")
    return 0


def register(commands: Any) -> None:
    create = commands.add_parser(
        "create-user", help="create an account (a regular user, or an admin with --admin)"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--full-name")
    create.add_argument(
        "--admin", action="store_true", help="the account manages every account (/admin)"
    )
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.set_defaults(run=create_user)

    role = commands.add_parser(
        "set-role",
        help="promote an account to admin or demote it to user (never the last active admin)",
    )
    role.add_argument("email")
    role.add_argument("role", choices=[member.value for member in UserRole])
    role.set_defaults(run=set_role)

    reset = commands.add_parser(
        "reset-password", help="set a new password and revoke the user's tokens"
    )
    reset.add_argument("--email", required=True)
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(run=reset_password)
