"""Request and response models of the settings API.

A secret is written as a plain string and read back as `{"is_set": ..., "masked": "sk-…abcd"}`,
so a response sent back unchanged can never store a masked value as the secret.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from app.analysis.cascade import (
    DEFAULT_TARGET_PRECISION,
    MAX_TARGET_PRECISION,
    MIN_TARGET_PRECISION,
)
from app.core.time_zones import time_zone_error
from app.integrations.zendesk import zendesk_base_url
from app.schemas import examples

AnalysisMode = Literal["auto", "llm", "local", "cascade"]
TAG_PREFIX_PATTERN = r"^[a-z][a-z0-9_]{0,30}$"
MIN_POLLING_INTERVAL_S = 60
MAX_POLLING_INTERVAL_S = 86_400
MASK_CHARACTER = "…"

SECRET_FIELDS = ("zendesk_api_token", "zendesk_webhook_secret", "openai_api_key")
NULLABLE_FIELDS = ("full_name", "zendesk_url", "zendesk_email", "openai_base_url", *SECRET_FIELDS)
REQUIRED_VALUE_FIELDS = (
    "timezone",
    "openai_model",
    "analysis_mode",
    "write_tags",
    "write_note",
    "reply_draft",
    "redact_pii",
    "tag_prefix",
    "polling_enabled",
    "polling_interval_s",
    "target_precision",
    "learn_from_llm",
    "use_llm_batch_api",
)
PROFILE_FIELDS = ("full_name", "timezone")
CASCADE_FIELDS = ("target_precision", "learn_from_llm", "use_llm_batch_api")

Trimmed = StringConstraints(strip_whitespace=True)
Secret = Annotated[str, Trimmed, StringConstraints(max_length=2000)]


def _invalid(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


class SettingsUpdate(BaseModel):
    """Partial update: only the fields present change. `null` or `""` clears a nullable field
    (a secret, the Zendesk account, the base URL); other fields cannot be null."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.SETTINGS_UPDATE]}
    )

    full_name: Annotated[str, Trimmed, StringConstraints(max_length=200)] | None = None
    timezone: Annotated[str, Trimmed, StringConstraints(max_length=64)] | None = Field(
        default=None, examples=["Europe/Berlin"], description="IANA time zone"
    )
    zendesk_url: Annotated[str, Trimmed, StringConstraints(max_length=255)] | None = Field(
        default=None,
        examples=["acme"],
        description="Subdomain (`acme`), host (`acme.zendesk.com`) or URL",
    )
    zendesk_email: Annotated[EmailStr, StringConstraints(max_length=320)] | None = None
    zendesk_api_token: Secret | None = None
    zendesk_webhook_secret: Secret | None = None
    openai_api_key: Secret | None = None
    openai_model: (
        Annotated[str, Trimmed, StringConstraints(min_length=1, max_length=100)] | None
    ) = Field(default=None, examples=["gpt-4.1-mini"])
    openai_base_url: Annotated[str, Trimmed, StringConstraints(max_length=255)] | None = Field(
        default=None, description="An OpenAI-compatible endpoint; null for api.openai.com"
    )
    analysis_mode: AnalysisMode | None = None
    write_tags: StrictBool | None = None
    write_note: StrictBool | None = None
    reply_draft: StrictBool | None = None
    redact_pii: StrictBool | None = None
    tag_prefix: Annotated[str, StringConstraints(pattern=TAG_PREFIX_PATTERN)] | None = None
    polling_enabled: StrictBool | None = None
    polling_interval_s: (
        Annotated[StrictInt, Field(ge=MIN_POLLING_INTERVAL_S, le=MAX_POLLING_INTERVAL_S)] | None
    ) = None
    target_precision: (
        Annotated[
            StrictFloat,
            Field(ge=MIN_TARGET_PRECISION, le=MAX_TARGET_PRECISION, allow_inf_nan=False),
        ]
        | None
    ) = Field(
        default=None,
        examples=[DEFAULT_TARGET_PRECISION],
        description="The offline model answers alone when it is at least this precise "
        "(cascade mode)",
    )
    learn_from_llm: StrictBool | None = Field(
        default=None, description="Confident LLM answers also train your own model"
    )
    use_llm_batch_api: StrictBool | None = Field(
        default=None,
        description="Non-urgent tickets the LLM answers go through the Batch API "
        "(half the price, answered within 24 hours)",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise _invalid("nul_character", "must not contain NUL characters")
        return value

    @field_validator(*NULLABLE_FIELDS, mode="before")
    @classmethod
    def _blank_to_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator(*REQUIRED_VALUE_FIELDS)
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise _invalid("not_null", "must not be null; omit the field to keep its value")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str | None) -> str | None:
        message = time_zone_error(value) if value is not None else None
        if message is not None:
            raise _invalid("time_zone", message)
        return value

    @field_validator("zendesk_url")
    @classmethod
    def _zendesk_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            base_url = zendesk_base_url(value)
            _ = urlsplit(base_url).port  # raises on a port that is not a number in range
        except ValueError as exc:
            raise _invalid("zendesk_url", str(exc)) from exc
        return base_url

    @field_validator("zendesk_email")
    @classmethod
    def _zendesk_email(cls, value: str | None) -> str | None:
        return value.strip() if value else None

    @field_validator(*SECRET_FIELDS)
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if not value:
            return None
        if MASK_CHARACTER in value:
            raise _invalid(
                "masked_secret",
                "looks like a masked value; send the full secret, or omit the field to keep it",
            )
        if any(character.isspace() for character in value):
            raise _invalid("secret_whitespace", "must not contain spaces or line breaks")
        if not value.isprintable():
            raise _invalid("secret_characters", "must not contain control characters")
        return value

    @field_validator("openai_model")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise _invalid("model_name", "must not contain control characters")
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            _ = parts.port
        except ValueError as exc:
            raise _invalid("url", f"not a valid URL: {exc}") from exc
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise _invalid("url", "must be an http:// or https:// URL with a host")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise _invalid("url", "must not contain credentials, a query or a fragment")
        if any(character.isspace() for character in value):
            raise _invalid("url", "must not contain spaces")
        return value.rstrip("/")


class SecretState(BaseModel):
    is_set: bool
    masked: str | None = Field(
        description="`sk-…abcd` from 24 characters, `…abcd` from 16, `…` below (12 or more "
        "characters always stay hidden); null when unset or unreadable"
    )


class ProfileOut(BaseModel):
    email: str
    full_name: str | None
    timezone: str


class IntegrationOut(BaseModel):
    zendesk_url: str | None
    zendesk_email: str | None
    zendesk_api_token: SecretState
    zendesk_webhook_secret: SecretState
    webhook_url: str = Field(description="Paste into a Zendesk webhook's endpoint URL")
    sandbox_in_use: bool = Field(description="No Zendesk account set: the built-in sandbox is used")
    openai_api_key: SecretState
    openai_model: str
    openai_model_shutdown_date: date | None
    openai_base_url: str | None
    analysis_mode: str
    write_tags: bool
    write_note: bool
    reply_draft: bool
    redact_pii: bool
    tag_prefix: str
    polling_enabled: bool
    polling_interval_s: int


class CascadeOut(BaseModel):
    target_precision: float = Field(
        description="The offline model answers alone when it is at least this precise"
    )
    learn_from_llm: bool = Field(description="Confident LLM answers also train your model")
    use_llm_batch_api: bool = Field(description="Non-urgent LLM answers via the Batch API")


class SettingsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SETTINGS_OUT]})

    profile: ProfileOut
    integration: IntegrationOut
    cascade: CascadeOut
    warnings: list[str] = Field(
        description="e.g. the chosen model's API shutdown date, or a secret to enter again"
    )


ZendeskSource = Literal["account", "sandbox", "none"]
OpenAISource = Literal["account", "offline"]


class ZendeskStatus(BaseModel):
    configured: bool = Field(description="The user's own Zendesk account is fully set")
    source: ZendeskSource = Field(description="What processing uses: account, sandbox or none")
    missing: list[str]
    detail: str


class OpenAIStatus(BaseModel):
    configured: bool = Field(description="An OpenAI API key is set")
    source: OpenAISource = Field(description="account (the LLM) or offline (local classifier)")
    missing: list[str]
    model: str
    analysis_mode: str
    detail: str


class IntegrationsStatus(BaseModel):
    zendesk: ZendeskStatus
    openai: OpenAIStatus


ErrorKind = Literal[
    "auth", "not_found", "invalid", "rate_limited", "timeout", "unreachable", "upstream"
]


class ConnectionTestResult(BaseModel):
    ok: bool
    latency_ms: int
    detail: str = Field(description="What was checked, or the upstream's error message")
    error_kind: ErrorKind | None = None
    upstream_status: int | None = Field(
        default=None, description="The upstream's HTTP status on failure"
    )
    warnings: list[str] = []


class ZendeskUser(BaseModel):
    id: int | None
    name: str | None
    email: str | None
    role: str | None


class ZendeskTestResult(ConnectionTestResult):
    source: Literal["account", "sandbox"]
    base_url: str
    user: ZendeskUser | None = None


class OpenAITestResult(ConnectionTestResult):
    model: str
    base_url: str | None
    owned_by: str | None = None
    shutdown_date: date | None = None
    priced: bool | None = Field(default=None, description="Costs are known for this model")
