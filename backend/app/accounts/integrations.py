"""Per-user integration settings: storage and resolution into what processing needs."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import crypto
from app.config import get_settings
from app.errors import NotConfigured
from app.integrations import upstream_guard
from app.integrations.zendesk import ZendeskCredentials
from app.models import IntegrationSettings

SANDBOX_EMAIL = "agent@example.com"
SANDBOX_API_TOKEN = "sim-api-token"  # the built-in sandbox's own demo credentials


@dataclass(frozen=True)
class ZendeskTarget:
    base_url: str
    credentials: ZendeskCredentials
    is_sandbox: bool


@dataclass(frozen=True)
class LLMTarget:
    api_key: str
    model: str
    base_url: str | None


@dataclass(frozen=True)
class ProcessingOptions:
    write_tags: bool = True
    write_note: bool = True
    reply_draft: bool = True
    redact_pii: bool = True
    tag_prefix: str = "ai"
    analysis_mode: str = "auto"


@dataclass(frozen=True)
class ResolvedIntegration:
    zendesk: ZendeskTarget
    llm: LLMTarget | None
    options: ProcessingOptions


def get_row(*, db: Session, user_id: int) -> IntegrationSettings | None:
    return db.scalar(select(IntegrationSettings).where(IntegrationSettings.user_id == user_id))


def get_or_create_row(*, db: Session, user_id: int) -> IntegrationSettings:
    row = get_row(db=db, user_id=user_id)
    if row is None:
        row = IntegrationSettings(user_id=user_id)
        db.add(row)
        db.flush()
    return row


def decrypted(token: str | None) -> str | None:
    return crypto.decrypt(token) if token else None


def options_of(row: IntegrationSettings | None) -> ProcessingOptions:
    if row is None:
        return ProcessingOptions()
    return ProcessingOptions(
        write_tags=row.write_tags,
        write_note=row.write_note,
        reply_draft=row.reply_draft,
        redact_pii=row.redact_pii,
        tag_prefix=row.tag_prefix,
        analysis_mode=row.analysis_mode,
    )


def sandbox_api_token(user_id: int | None) -> str:
    """The user's own account in the built-in sandbox (its demo account if no user)."""
    if user_id is None:
        return SANDBOX_API_TOKEN
    # The format sandbox.zendesk.builtin.tenant_api_token verifies (the worker does not
    # ship the sandbox); tests check the two agree.
    key = get_settings().secret_key.encode()
    mac = hmac.new(key, f"sandbox-tenant:{user_id}".encode(), hashlib.sha256).hexdigest()
    return f"sbx-{user_id}-{mac[:32]}"


def zendesk_target(row: IntegrationSettings | None, *, user_id: int | None = None) -> ZendeskTarget:
    """The Zendesk account to use; the built-in sandbox when none is set and it is enabled
    (the user's own sandbox account: `user_id` names the user when there is no row)."""
    settings = get_settings()
    token = decrypted(row.zendesk_api_token_encrypted) if row else None
    if row is not None and row.zendesk_url and row.zendesk_email and token:
        from app.integrations.zendesk import zendesk_base_url

        # Checked on every use too: a name can resolve elsewhere than when it was saved.
        upstream_guard.check("zendesk_url", row.zendesk_url)
        return ZendeskTarget(
            base_url=zendesk_base_url(row.zendesk_url),
            credentials=ZendeskCredentials(email=row.zendesk_email, api_token=token),
            is_sandbox=False,
        )
    if settings.sandbox_enabled and (row is None or not row.zendesk_url):
        return ZendeskTarget(
            base_url=settings.sandbox_zendesk_url,
            credentials=ZendeskCredentials(
                email=SANDBOX_EMAIL,
                api_token=sandbox_api_token(row.user_id if row is not None else user_id),
            ),
            is_sandbox=True,
        )
    missing = [
        name
        for name, value in (
            ("zendesk_url", row.zendesk_url if row else None),
            ("zendesk_email", row.zendesk_email if row else None),
            ("zendesk_api_token", token),
        )
        if not value
    ]
    raise NotConfigured(
        f"Zendesk is not configured: set {', '.join(missing)} with PUT /settings/",
        details={"missing": missing},
    )


def llm_target(row: IntegrationSettings | None) -> LLMTarget | None:
    key = decrypted(row.openai_api_key_encrypted) if row else None
    if row is None or not key:
        return None
    upstream_guard.check("openai_base_url", row.openai_base_url)
    return LLMTarget(api_key=key, model=row.openai_model, base_url=row.openai_base_url)


def resolve(*, db: Session, user_id: int) -> ResolvedIntegration:
    row = get_row(db=db, user_id=user_id)
    return ResolvedIntegration(
        zendesk=zendesk_target(row, user_id=user_id), llm=llm_target(row), options=options_of(row)
    )


SECRET_COLUMNS = {
    "zendesk_api_token": "zendesk_api_token_encrypted",
    "openai_api_key": "openai_api_key_encrypted",
    "zendesk_webhook_secret": "zendesk_webhook_secret_encrypted",
}


def update(*, db: Session, user_id: int, changes: dict[str, object]) -> IntegrationSettings:
    """Apply changes; secrets are encrypted, an empty string or None clears a value."""
    row = get_or_create_row(db=db, user_id=user_id)
    for name, value in changes.items():
        if name in SECRET_COLUMNS:
            setattr(row, SECRET_COLUMNS[name], crypto.encrypt(str(value)) if value else None)
        elif hasattr(row, name) and not name.startswith("_"):
            setattr(row, name, value)
        else:
            raise ValueError(f"unknown integration setting {name!r}")
    db.flush()
    return row
