"""Helpers shared by the commands: users by email, passwords, chunks, a progress bar."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TextIO, TypeVar

from sqlalchemy.orm import Session

from app.accounts import users
from app.models import User

T = TypeVar("T")
MIN_PASSWORD_LENGTH = 8


class CommandError(Exception):
    """A clear message for the operator, exit status 2 (bad input or state)."""


def user_by_email(db: Session, email: str) -> User:
    user = users.get_by_email(db=db, email=email)
    if user is None:
        raise CommandError(f"no user with the email {email!r}")
    return user


def read_password(from_stdin: bool) -> str:
    """A new password: one line of stdin (scripts), or typed twice at a prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("New password: ")
        if getpass.getpass("Repeat it: ") != password:
            raise CommandError("the passwords differ")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CommandError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return password


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def parse_moment(value: str) -> datetime:
    """A YYYY-MM-DD day or an ISO-8601 moment, as given (naive: a wall-clock time)."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def parse_day(value: str) -> datetime:
    """A YYYY-MM-DD day (or an ISO-8601 moment) as an aware datetime, naive ones in UTC."""
    moment = parse_moment(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ProgressBar:
    """`[#####-----] 120/300 tickets` redrawn in place on a terminal; one line per change
    of whole percent elsewhere (logs, pipes)."""

    WIDTH = 30

    def __init__(self, total: int, unit: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.unit = unit
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._last: str | None = None

    def update(self, done: int, extra: str = "") -> None:
        filled = int(self.WIDTH * min(done, self.total) / self.total)
        line = f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {done}/{self.total} {self.unit}"
        line = f"{line}  {extra}".rstrip()
        if line == self._last:
            return
        self._last = line
        if self.interactive:
            self.stream.write(f"\r{line}")
        else:
            self.stream.write(f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
