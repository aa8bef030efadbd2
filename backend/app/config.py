"""Application settings, read once from the environment (and `.env`)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core import local_keys

BACKEND_DIR = Path(__file__).resolve().parents[1]
DEFAULT_SECRET_KEY = local_keys.LEGACY_SECRET_KEY
MIN_SECRET_KEY_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = BACKEND_DIR / "data"
    database_url: str = ""
    redis_url: str | None = None
    # Celery's broker when it is not REDIS_URL, e.g. RabbitMQ: amqp://user:pass@host:5672/vhost.
    broker_url: str | None = None
    # Unset outside production: generated once into the data directory (app/core/local_keys.py).
    secret_key: str = ""
    access_token_expire_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    # How long a process remembers which user a token authenticates (0: not at all); another
    # process's password change or account deletion is seen here at most this late.
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # How long a process serves a user's dashboard from memory (0: never); what another
    # process wrote shows at most this late. Off by default: batches are saved by the worker,
    # whose writes this cache cannot see, and the dashboard refetches once, when a job ends.
    report_cache_seconds: float = Field(default=0.0, ge=0, le=300)
    cors_origins: Annotated[list[str], NoDecode] = [
        "http://localhost:3000",
        "http://localhost:5173",
    ]
    public_base_url: str = "http://127.0.0.1:8000"
    # Where the API's processes and workers reach the API themselves (the built-in sandbox),
    # when that differs from PUBLIC_BASE_URL (compose: http://api:8000). Unset: the public one.
    internal_base_url: str | None = None
    # The address the API listens on (start.sh passes it to uvicorn).
    host: str = "127.0.0.1"
    sandbox_enabled: bool | None = None
    # Users' Zendesk and LLM URLs may point at private addresses (default: not in production).
    allow_private_upstreams: bool | None = None
    # Comma-separated Fernet keys for secrets at rest; the first encrypts, all decrypt.
    encryption_keys: str = ""
    zendesk_requests_per_minute: int = Field(default=400, ge=1)
    zendesk_timeout_s: float = Field(default=10.0, gt=0)
    zendesk_max_retries: int = Field(default=4, ge=0, le=10)
    zendesk_backoff_base_s: float = Field(default=0.5, ge=0)
    llm_timeout_s: float = Field(default=20.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_prices_json: str | None = None
    # Pooled clients kept per upstream (Zendesk, LLM): one per account, least recently used out.
    upstream_client_cache_size: int = Field(default=64, ge=1, le=10_000)
    batch_concurrency: int = Field(default=50, ge=1, le=500)
    # A job's lease: a worker that stops renewing it (killed) loses the job after this long.
    batch_lease_s: int = Field(default=60, ge=2)
    # A user's batch jobs running at once across all workers: a fair share of the workers.
    # A job beyond it waits in the database until one of theirs finishes and hands it on.
    batch_jobs_per_user: int = Field(default=2, ge=1)
    # Redis: how long an unacknowledged task waits before redelivery to another worker.
    celery_visibility_timeout_s: int = Field(default=300, ge=5)
    # Webhook deliveries are kept this long to recognise Zendesk's repeated deliveries.
    webhook_delivery_retention_days: int = Field(default=14, ge=1)
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Learning loop: the least time between two automatic retrains of one user's model, and
    # how many of a user's model versions are kept (the active one always is).
    retrain_cooldown_s: int = Field(default=600, ge=0)
    keep_model_versions: int = Field(default=5, ge=1, le=100)
    # Synchronous upstream calls (POST /tickets/process, connection tests) in flight in one
    # API process: per user (429 beyond) and in total (503 beyond), below the 40 threads.
    processing_concurrency_per_user: int = Field(default=4, ge=1)
    processing_concurrency_total: int = Field(default=24, ge=1)
    # Failed logins a minute per (email, client address) pair, and per address across emails.
    login_attempts_per_minute: int = Field(default=10, ge=1)
    login_attempts_per_address_per_minute: int = Field(default=30, ge=1)
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated
    # addresses or networks, "*" for any; empty (default): none, loopback included.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = []
    # /metrics on the API's port: open outside production; in production only with
    # `Authorization: Bearer <METRICS_TOKEN>` (unset: 404; scrape
    # `python -m app.core.observability` instead).
    metrics_token: str = ""
    log_level: str = "INFO"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [entry.strip() for entry in value.split(",") if entry.strip()]
        if isinstance(value, list):
            for entry in value:
                if entry != "*":
                    try:
                        ipaddress.ip_network(entry, strict=False)
                    except ValueError as exc:
                        raise ValueError(
                            f"FORWARDED_ALLOW_IPS: {entry!r} is not an IP address or network"
                        ) from exc
        return value

    @model_validator(mode="after")
    def _resolve_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'triage.db'}"
        if self.sandbox_enabled is None:
            self.sandbox_enabled = self.env != "production"
        if self.allow_private_upstreams is None:
            self.allow_private_upstreams = self.env != "production"
        if self.env != "production" and not (self.secret_key and self.encryption_keys):
            self._use_local_keys()
        if self.env == "production":
            if (
                self.secret_key == DEFAULT_SECRET_KEY
                or len(self.secret_key) < MIN_SECRET_KEY_LENGTH
            ):
                raise ValueError(
                    "SECRET_KEY must be set to a random value of at least "
                    f"{MIN_SECRET_KEY_LENGTH} characters in production, e.g. "
                    '`python -c "import secrets; print(secrets.token_urlsafe(48))"`'
                )
            if not self.encryption_keys:
                raise ValueError(
                    "ENCRYPTION_KEYS must be set in production (a Fernet key, e.g. "
                    '`python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())"`)'
                )
        return self

    def _use_local_keys(self) -> None:
        if not local_keys.is_loopback(self.host):
            raise ValueError(
                f"HOST={self.host} is reachable from other machines: set SECRET_KEY and "
                "ENCRYPTION_KEYS explicitly (the generated keys are for loopback only)"
            )
        if not self.secret_key:
            self.secret_key = local_keys.signing_key(self.data_dir)
        if not self.encryption_keys:
            self.encryption_keys = local_keys.encryption_keys(self.data_dir)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sandbox_zendesk_url(self) -> str:
        base_url = self.internal_base_url or self.public_base_url
        return f"{base_url.rstrip('/')}/sandbox/zendesk"

    @property
    def celery_broker_url(self) -> str:
        return (
            self.broker_url
            or self.redis_url
            or f"sqla+sqlite:///{self.data_dir / 'celery-broker.db'}"
        )

    @property
    def celery_result_backend(self) -> str:
        return self.redis_url or f"db+sqlite:///{self.data_dir / 'celery-results.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
