"""The embedded default's keys: random, separate, private, stable, loopback only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import ValidationError

from app.config import BACKEND_DIR, DEFAULT_SECRET_KEY, Settings
from app.core import local_keys

FERNET = "bX9uqS1xLcD3mQeKcS8c4bJf0m3y8Xb2m6R0W8Q5b3Y="


@pytest.fixture
def no_keys_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "ENCRYPTION_KEYS", "ENV", "HOST", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def embedded(data_dir: Path, **overrides: object) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **overrides)


@pytest.mark.usefixtures("no_keys_in_env")
def test_first_run_generates_separate_private_keys_reused_later(tmp_path: Path) -> None:
    first = embedded(tmp_path)
    assert len(first.secret_key) >= 48
    assert first.secret_key != DEFAULT_SECRET_KEY
    assert first.encryption_keys != first.secret_key
    assert first.encryption_keys != local_keys.legacy_encryption_key()
    Fernet(first.encryption_keys.encode())  # a valid Fernet key, on its own
    for name in (local_keys.SECRET_KEY_FILE, local_keys.ENCRYPTION_KEY_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600

    again = embedded(tmp_path)
    assert (again.secret_key, again.encryption_keys) == (first.secret_key, first.encryption_keys)
    other_copy = embedded(tmp_path / "other")
    assert other_copy.secret_key != first.secret_key
    assert other_copy.encryption_keys != first.encryption_keys


@pytest.mark.usefixtures("no_keys_in_env")
def test_explicit_keys_win_and_are_not_written(tmp_path: Path) -> None:
    settings = embedded(tmp_path, secret_key="s" * 48, encryption_keys=FERNET)
    assert (settings.secret_key, settings.encryption_keys) == ("s" * 48, FERNET)
    assert not (tmp_path / local_keys.SECRET_KEY_FILE).exists()


@pytest.mark.usefixtures("no_keys_in_env")
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "triage.example.com"])
def test_a_reachable_address_needs_explicit_keys(tmp_path: Path, host: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY and ENCRYPTION_KEYS"):
        embedded(tmp_path, host=host)
    assert not (tmp_path / local_keys.SECRET_KEY_FILE).exists()
    assert embedded(tmp_path, host=host, secret_key="s" * 48, encryption_keys=FERNET)


@pytest.mark.usefixtures("no_keys_in_env")
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_addresses_use_generated_keys(tmp_path: Path, host: str) -> None:
    assert embedded(tmp_path, host=host).secret_key


@pytest.mark.usefixtures("no_keys_in_env")
def test_an_existing_database_keeps_its_secrets_readable(tmp_path: Path) -> None:
    """A copy from before generated keys encrypted with a key derived from the published
    one: that key still decrypts (never encrypts) until the keys are rotated."""
    (tmp_path / "triage.db").write_bytes(b"")
    legacy = Fernet(local_keys.legacy_encryption_key().encode())
    stored = legacy.encrypt(b"zendesk-token")
    keys = embedded(tmp_path).encryption_keys.split(",")
    assert keys[1:] == [local_keys.legacy_encryption_key()]
    fernet = MultiFernet([Fernet(key.encode()) for key in keys])
    assert fernet.decrypt(stored) == b"zendesk-token"
    with pytest.raises(InvalidToken):
        legacy.decrypt(fernet.encrypt(b"new secret"))


def test_the_preflight_check_says_why_without_a_traceback(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "ENCRYPTION_KEYS", "ENV")
    }
    env.update(HOST="0.0.0.0", DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "app.core.local_keys"],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "HOST=0.0.0.0" in result.stderr and "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
