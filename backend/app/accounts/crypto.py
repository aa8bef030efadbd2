"""Encryption of secrets at rest (Fernet; several keys allow rotation).

ENCRYPTION_KEYS is a comma-separated list of Fernet keys: the first encrypts, every key
decrypts. To rotate, put a new key first, run `python -m app.accounts.crypto rotate` (which
re-encrypts every stored secret with it), then drop the old key.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Column, inspect, select, update
from sqlalchemy.orm import Session

from app.config import get_settings

logger = logging.getLogger(__name__)

ENCRYPTED_SUFFIX = "_encrypted"
ROTATE_BATCH_SIZE = 500
MASK_SUFFIX_MIN_LENGTH = 16  # shorter secrets are masked entirely
MASK_PREFIX_MIN_LENGTH = 24  # shorter ones keep their prefix hidden too


def _keys_from_settings() -> list[bytes]:
    settings = get_settings()
    if settings.encryption_keys:
        return [key.strip().encode() for key in settings.encryption_keys.split(",") if key.strip()]
    # Development only (production refuses to start without ENCRYPTION_KEYS).
    digest = hashlib.sha256(f"encryption:{settings.secret_key}".encode()).digest()
    return [base64.urlsafe_b64encode(digest)]


@lru_cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys_from_settings()])


@lru_cache
def _newest() -> Fernet:
    return Fernet(_keys_from_settings()[0])


def reset_keys() -> None:
    """Forget the cached keys so the next call reads ENCRYPTION_KEYS again (tests, reloads)."""
    _fernet.cache_clear()
    _newest.cache_clear()


def generate_key() -> str:
    return Fernet.generate_key().decode()


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt with any configured key; raises ValueError if no key fits."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted with the configured ENCRYPTION_KEYS") from exc


def is_current(token: str) -> bool:
    """Whether the token is already encrypted with the first (newest) key."""
    try:
        _newest().decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    """Re-encrypt a token with the first (newest) key; raises ValueError if no key fits."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted with the configured ENCRYPTION_KEYS") from exc


def mask(secret: str | None) -> str | None:
    """`sk-…abcd`: enough to recognise a secret, never enough to use it. At least 12
    characters always stay hidden: the last 4 are shown from 16 characters on, the first 3
    (when ASCII) from 24; a shorter secret is shown as `…` alone."""
    if not secret:
        return None
    if len(secret) < MASK_SUFFIX_MIN_LENGTH:
        return "…"
    head = secret[:3] if len(secret) >= MASK_PREFIX_MIN_LENGTH and secret[:3].isascii() else ""
    return f"{head}…{secret[-4:]}"


# --- rotation of stored secrets ------------------------------------------------------------


@dataclass
class RotationReport:
    """What rotate_all did; `unreadable` names secrets no configured key can decrypt."""

    rotated: int = 0
    already_current: int = 0
    unreadable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"rotated={self.rotated} already_current={self.already_current} "
            f"unreadable={len(self.unreadable)}"
        )


def _encrypted_attributes() -> list[tuple[type[Any], list[str]]]:
    """Every mapped class with `*_encrypted` columns (they hold Fernet tokens)."""
    from app.models import Base

    found = []
    for mapper in Base.registry.mappers:
        names = [
            mapper.get_property_by_column(column).key
            for column in mapper.columns
            if isinstance(column, Column) and column.name.endswith(ENCRYPTED_SUFFIX)
        ]
        if names:
            found.append((mapper.class_, names))
    return found


def rotate_all(db: Session) -> RotationReport:
    """Re-encrypt every stored secret with the newest key; the caller commits.

    Secrets already on the newest key are left alone, so a second run changes nothing.
    Secrets no configured key can decrypt are reported and left as they are.
    """
    report = RotationReport()
    db.flush()
    for model, names in _encrypted_attributes():
        primary_key = inspect(model).primary_key[0]
        columns = [getattr(model, name) for name in names]
        last_id: Any = None
        while True:
            query = select(primary_key, *columns).order_by(primary_key).limit(ROTATE_BATCH_SIZE)
            if last_id is not None:
                query = query.where(primary_key > last_id)
            rows = db.execute(query).all()
            if not rows:
                break
            for row in rows:
                last_id = row[0]
                changes: dict[str, str] = {}
                for name, token in zip(names, row[1:], strict=True):
                    if not token:
                        continue
                    if is_current(token):
                        report.already_current += 1
                        continue
                    try:
                        changes[name] = rotate(token)
                    except ValueError:
                        report.unreadable.append(f"{model.__tablename__}.{name} id={last_id}")
                        continue
                    report.rotated += 1
                if changes:
                    db.execute(update(model).where(primary_key == last_id).values(**changes))
    logger.info("encryption key rotation: %s", report.summary())
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.accounts.crypto", description="Manage encryption of stored secrets."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "rotate", help="re-encrypt every stored secret with the first key of ENCRYPTION_KEYS"
    )
    commands.add_parser("generate-key", help="print a new Fernet key")
    args = parser.parse_args(argv)

    if args.command == "generate-key":
        print(generate_key())
        return 0

    from app.database import session_scope

    with session_scope() as session:
        report = rotate_all(session)
    print(report.summary())
    for name in report.unreadable:
        print(f"unreadable: {name}", file=sys.stderr)
    return 1 if report.unreadable else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
