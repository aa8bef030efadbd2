"""Keys of the embedded default, generated on first run and kept in its data directory.

Without `SECRET_KEY` and `ENCRYPTION_KEYS` in the environment, a copy signs tokens with a
random key of its own and encrypts stored secrets with a separate random Fernet key, both
written once to files readable by their owner only (mode 0600) and reused on later runs.
Such a copy only listens on a loopback address: anything reachable from elsewhere needs
keys set explicitly (and production always does).

`python -m app.core.local_keys` checks the settings before the service starts and prints why
they are refused, without a traceback.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import secrets
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

SECRET_KEY_FILE = "secret_key"
ENCRYPTION_KEY_FILE = "encryption_key"
# Before keys were generated, the embedded default signed tokens with this published key and
# derived its Fernet key from it: kept for decryption only, so secrets stored by such a copy
# stay readable until `triage rotate-keys` re-encrypts them with the new key.
LEGACY_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def legacy_encryption_key() -> str:
    digest = hashlib.sha256(f"encryption:{LEGACY_SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _read_or_create(path: Path, generate: str) -> str:
    """The file's content; created with `generate` (mode 0600) if absent. Two processes
    starting at once agree: the one that loses the exclusive create reads the winner's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the winner may not have written it yet
            value = path.read_text().strip()
            if value:
                return value
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty: delete it to generate a new key") from None
    with os.fdopen(descriptor, "w") as file:
        file.write(generate + "\n")
    return generate


def signing_key(data_dir: Path) -> str:
    return _read_or_create(data_dir / SECRET_KEY_FILE, secrets.token_urlsafe(48))


def encryption_keys(data_dir: Path) -> str:
    """Comma-separated Fernet keys: the copy's own first; a data directory that already held
    a database before keys existed also decrypts with the legacy derived key."""
    path = data_dir / ENCRYPTION_KEY_FILE
    keys = [Fernet.generate_key().decode()]
    if not path.exists() and (data_dir / "triage.db").exists():
        keys.append(legacy_encryption_key())
    return _read_or_create(path, ",".join(keys))


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> int:
    from pydantic import ValidationError

    from app.config import Settings

    try:
        Settings()
    except ValidationError as exc:
        for error in exc.errors():
            print(f"error: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
