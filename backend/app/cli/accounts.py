"""Accounts: create a user, reset a password (which also revokes the user's tokens)."""

from __future__ import annotations

import argparse
from typing import Any

from app.accounts import users
from app.cli.common import CommandError, read_password, user_by_email
from app.database import session_scope
from app.errors import AppError


def create_user(args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)
    try:
        with session_scope() as db:
            user = users.create_user(
                db=db, email=args.email, password=password, full_name=args.full_name
            )
            user_id, email = user.id, user.email
    except AppError as exc:
        raise CommandError(exc.message) from exc
    print(f"created user {user_id} {email}")
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
        "create-user",
        help="create an account (every account is a regular user: there are no roles)",
    )
    create.add_argument("--email", required=True)
    create.add_argument("--full-name")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.set_defaults(run=create_user)

    reset = commands.add_parser(
        "reset-password", help="set a new password and revoke the user's tokens"
    )
    reset.add_argument("--email", required=True)
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(run=reset_password)
