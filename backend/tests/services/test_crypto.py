"""Secrets at rest: Fernet encryption, masking and key rotation (in process and by the CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.accounts import crypto, integrations
from app.config import BACKEND_DIR, get_settings
from app.core.migrations import upgrade_head
from app.database import make_engine
from app.models import IntegrationSettings, User
from tests.factories import UserFactory

KEY_A = crypto.generate_key()
KEY_B = crypto.generate_key()
SECRETS = {
    "zendesk_api_token": "zd-token-0123456789abcdef",
    "openai_api_key": "sk-proj-0123456789abcdef",
    "zendesk_webhook_secret": "whsec-0123456789abcdef",
}

UseKeys = Callable[[str], None]


@pytest.fixture
def use_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[UseKeys]:
    """Switch ENCRYPTION_KEYS for this test; the original keys come back afterwards."""

    def switch(keys: str) -> None:
        monkeypatch.setattr(get_settings(), "encryption_keys", keys)
        crypto.reset_keys()

    yield switch
    crypto.reset_keys()


def stored_tokens(db: Session, user_id: int) -> dict[str, str]:
    row = (
        db.execute(
            text(
                "SELECT zendesk_api_token_encrypted, openai_api_key_encrypted, "
                "zendesk_webhook_secret_encrypted FROM integration_settings "
                "WHERE user_id = :user_id"
            ),
            {"user_id": user_id},
        )
        .mappings()
        .one()
    )
    return {name: row[column] for name, column in integrations.SECRET_COLUMNS.items()}


def test_encrypt_round_trips_and_hides_the_plaintext() -> None:
    token = crypto.encrypt("sk-secret-value")
    assert "sk-secret-value" not in token
    assert crypto.decrypt(token) == "sk-secret-value"
    assert crypto.encrypt("sk-secret-value") != token  # a fresh IV every time


def test_decrypt_with_an_unknown_key_raises_value_error(use_keys: UseKeys) -> None:
    use_keys(KEY_A)
    token = crypto.encrypt("secret")
    use_keys(KEY_B)
    with pytest.raises(ValueError, match="ENCRYPTION_KEYS"):
        crypto.decrypt(token)
    with pytest.raises(ValueError):
        crypto.decrypt("not-a-fernet-token")


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        (None, None),
        ("", None),
        ("ab", "…"),
        ("short", "…"),
        ("sk-abc", "…"),
        ("sk-abcdefgh", "…"),
        ("sk-abcdefghijkl", "…"),  # 15 characters: even 4 of them would be too many
        ("sk-abcdefghijklm", "…jklm"),  # 16: the last 4 shown, 12 hidden
        ("sk-proj-0123456789abcd", "…abcd"),
        ("sk-proj-0123456789abcdef", "sk-…cdef"),  # 24: the prefix too, 17 hidden
        ("éééééééééééééééééééééééé", "…éééé"),  # a prefix only when it is ASCII
    ],
)
def test_mask_shows_only_a_prefix_and_the_last_characters(
    secret: str | None, masked: str | None
) -> None:
    assert crypto.mask(secret) == masked


def test_rotation_moves_every_secret_to_the_newest_key(
    use_keys: UseKeys, users: UserFactory, db: Session
) -> None:
    use_keys(KEY_A)
    user = users.create()
    integrations.update(db=db, user_id=user.id, changes=dict(SECRETS))
    written_with_a = stored_tokens(db, user.id)

    use_keys(f"{KEY_B},{KEY_A}")  # B is new and encrypts; A still decrypts
    for name, token in written_with_a.items():
        assert crypto.decrypt(token) == SECRETS[name]
        assert not crypto.is_current(token)

    report = crypto.rotate_all(db)
    assert report.rotated >= len(SECRETS)
    rotated = stored_tokens(db, user.id)
    assert all(rotated[name] != written_with_a[name] for name in SECRETS)
    row = integrations.get_row(db=db, user_id=user.id)
    assert row is not None and row.openai_api_key_encrypted == rotated["openai_api_key"]

    use_keys(KEY_B)  # A retired
    for name, token in rotated.items():
        assert crypto.decrypt(token) == SECRETS[name]
    again = crypto.rotate_all(db)
    assert again.rotated == 0
    assert stored_tokens(db, user.id) == rotated

    use_keys(KEY_A)
    with pytest.raises(ValueError):
        crypto.decrypt(rotated["openai_api_key"])


def test_rotation_reports_secrets_no_key_can_decrypt(
    use_keys: UseKeys, users: UserFactory, db: Session
) -> None:
    use_keys(KEY_A)
    user = users.create()
    integrations.update(db=db, user_id=user.id, changes={"openai_api_key": "sk-lost-0123456"})
    lost = stored_tokens(db, user.id)["openai_api_key"]
    row = integrations.get_row(db=db, user_id=user.id)
    assert row is not None

    use_keys(KEY_B)
    report = crypto.rotate_all(db)
    assert f"integration_settings.openai_api_key_encrypted id={row.id}" in report.unreadable
    assert stored_tokens(db, user.id)["openai_api_key"] == lost


def test_rotate_command_re_encrypts_a_database(use_keys: UseKeys, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'rotate.db'}"
    engine = make_engine(database_url)
    with engine.connect() as connection:
        upgrade_head(connection)
    use_keys(KEY_A)
    with Session(engine) as session:
        user = User(email="rotate@example.com", hashed_password="-")
        session.add(user)
        session.flush()
        session.add(
            IntegrationSettings(
                user_id=user.id, openai_api_key_encrypted=crypto.encrypt("sk-cli-0123456789")
            )
        )
        session.commit()

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENCRYPTION_KEYS": f"{KEY_B},{KEY_A}",
        "DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "app.accounts.crypto", "rotate"],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "rotated=1 already_current=0 unreadable=0" in result.stdout
    assert "sk-cli-0123456789" not in result.stdout + result.stderr

    with engine.connect() as connection:
        token = connection.execute(
            text("SELECT openai_api_key_encrypted FROM integration_settings")
        ).scalar_one()
    engine.dispose()
    use_keys(KEY_B)
    assert crypto.decrypt(token) == "sk-cli-0123456789"
