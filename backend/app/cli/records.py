"""Stored data: export CSV, rebuild analytics rollups, retrain a user's model, rotate the
encryption of stored secrets."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from typing import Any

from sqlalchemy import select

from app.accounts import crypto
from app.analysis import learning
from app.analytics import reports, rollups_write
from app.analytics.export import export_csv
from app.cli.common import CommandError, parse_moment, user_by_email
from app.database import session_scope
from app.errors import AppError
from app.models import User


def export(args: argparse.Namespace) -> int:
    with session_scope() as db:
        user = user_by_email(db, args.user)
        try:
            window = reports.resolve_window(
                user=user,
                start=parse_moment(args.start) if args.start else None,  # the account's days
                end=parse_moment(args.end) if args.end else None,
                tz=args.tz,
            )
        except AppError as exc:
            raise CommandError(exc.message) from exc
        output = (
            open(args.output, "w", newline="", encoding="utf-8")  # noqa: SIM115
            if args.output != "-"
            else nullcontext(sys.stdout)
        )
        with output as stream:
            for chunk in export_csv(db, window):
                stream.write(chunk)
    if args.output != "-":
        print(f"exported the analyses to {args.output}", file=sys.stderr)
    return 0


def rebuild_rollups(args: argparse.Namespace) -> int:
    with session_scope() as db:
        if args.all:
            user_ids = list(db.execute(select(User.id).order_by(User.id)).scalars())
        else:
            user_ids = [user_by_email(db, args.user).id]
    written = 0
    for user_id in user_ids:
        with session_scope() as db:  # one transaction per user: a long rebuild holds less
            written += rollups_write.rebuild_user(db, user_id=user_id)
    print(f"rebuilt the daily rollups of {len(user_ids)} users: {written} rows")
    return 0


def retrain(args: argparse.Namespace) -> int:
    with session_scope() as db:
        user_id = user_by_email(db, args.user).id
    try:
        with session_scope() as db:
            result = learning.retrain_user_model(db=db, user_id=user_id)
    except learning.TrainingUnavailable as exc:
        raise CommandError(str(exc)) from exc
    state = f"version {result.version} promoted" if result.promoted else "not promoted"
    print(f"retrain: {state}: {result.reason}")
    return 0


def rotate_keys(args: argparse.Namespace) -> int:
    with session_scope() as db:
        report = crypto.rotate_all(db)
    print(f"rotate-keys: {report.summary()}")
    for name in report.unreadable:
        print(f"unreadable (no configured key decrypts it): {name}", file=sys.stderr)
    return 1 if report.unreadable else 0


def register(commands: Any) -> None:
    out = commands.add_parser("export", help="the analyses of a period as CSV")
    out.add_argument("--user", required=True, help="the account's email")
    out.add_argument("--start", help="first day (YYYY-MM-DD; default: 30 days before --end)")
    out.add_argument("--end", help="end of the period (default: now)")
    out.add_argument("--tz", help="time zone of the days (default: the account's)")
    out.add_argument("-o", "--output", default="-", help="a file, or - for stdout")
    out.set_defaults(run=export)

    rollups = commands.add_parser("rebuild-rollups", help="recount the daily analytics rollups")
    who = rollups.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="the account's email")
    who.add_argument("--all", action="store_true", help="every account")
    rollups.set_defaults(run=rebuild_rollups)

    model = commands.add_parser("retrain", help="train the account's own model now")
    model.add_argument("--user", required=True, help="the account's email")
    model.set_defaults(run=retrain)

    keys = commands.add_parser(
        "rotate-keys",
        help="re-encrypt stored secrets with the first key of ENCRYPTION_KEYS",
    )
    keys.set_defaults(run=rotate_keys)
