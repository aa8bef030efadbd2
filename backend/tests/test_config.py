from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import DEFAULT_SECRET_KEY, Settings

KEY = "k" * 48
FERNET = "bX9uqS1xLcD3mQeKcS8c4bJf0m3y8Xb2m6R0W8Q5b3Y="


def test_defaults_are_the_embedded_sqlite_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("DATABASE_URL", "ENV", "SANDBOX_ENABLED", "SECRET_KEY", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))  # its generated keys go there
    settings = Settings(_env_file=None)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("triage.db")
    assert settings.sandbox_enabled is True
    assert settings.celery_broker_url.startswith("sqla+sqlite:///")


@pytest.mark.parametrize("secret", [DEFAULT_SECRET_KEY, "too-short"])
def test_production_refuses_default_or_short_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(_env_file=None, env="production", secret_key=secret, encryption_keys=FERNET)


def test_production_requires_encryption_keys() -> None:
    with pytest.raises(ValidationError, match="ENCRYPTION_KEYS"):
        Settings(_env_file=None, env="production", secret_key=KEY, encryption_keys="")


def test_production_with_strong_secret_starts_without_sandbox() -> None:
    settings = Settings(_env_file=None, env="production", secret_key=KEY, encryption_keys=FERNET)
    assert settings.sandbox_enabled is False


def test_cors_origins_from_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings(_env_file=None).cors_origins == ["https://a.example", "https://b.example"]


def test_redis_url_switches_celery_to_redis() -> None:
    settings = Settings(_env_file=None, redis_url="redis://localhost:6379/0")
    assert settings.celery_broker_url == "redis://localhost:6379/0"


def test_invalid_token_lifetime_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, access_token_expire_minutes=0)
