"""Account settings: the profile, integration settings with secrets masked, what each
integration will use, and connection tests against Zendesk and the model endpoint.

Secrets are stored encrypted (see `crypto`) and leave this module only masked. Connection
tests use short timeouts and no retries (a user waits on them); an upstream failure is a
result with `ok=False` and the upstream's message, not an exception.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts import crypto, integrations
from app.analysis import cascade, learning
from app.config import get_settings
from app.errors import NotConfigured
from app.integrations import upstream_guard
from app.integrations.llm import LLMAnalyzer, LLMError
from app.integrations.llm import pricing as llm_pricing
from app.integrations.zendesk import (
    ZendeskAuthError,
    ZendeskClient,
    ZendeskError,
    ZendeskInvalid,
    ZendeskNotFound,
    ZendeskRateLimited,
)
from app.models import IntegrationSettings, User
from app.schemas.settings import (
    CASCADE_FIELDS,
    PROFILE_FIELDS,
    SECRET_FIELDS,
    CascadeOut,
    ErrorKind,
    IntegrationOut,
    IntegrationsStatus,
    OpenAIStatus,
    OpenAITestResult,
    ProfileOut,
    SecretState,
    SettingsOut,
    SettingsUpdate,
    ZendeskStatus,
    ZendeskTestResult,
    ZendeskUser,
)
from app.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

CONNECTION_TEST_TIMEOUT_S = 5.0
ZENDESK_ACCOUNT_FIELDS = ("zendesk_url", "zendesk_email", "zendesk_api_token")
WRITING_ROLES = {"admin", "agent"}


# --- reading -------------------------------------------------------------------------------


def _today() -> date:
    return datetime.now(UTC).date()


def ensure_row(*, db: Session, user_id: int) -> IntegrationSettings:
    """The user's settings row, created with defaults on first use (safe under a race)."""
    row = integrations.get_row(db=db, user_id=user_id)
    if row is not None:
        return row
    try:
        with db.begin_nested():
            row = IntegrationSettings(user_id=user_id)
            db.add(row)
    except IntegrityError:
        row = integrations.get_row(db=db, user_id=user_id)
        if row is None:
            raise
    return row


def _secret_state(token: str | None, name: str, warnings: list[str]) -> SecretState:
    if not token:
        return SecretState(is_set=False, masked=None)
    try:
        plaintext = crypto.decrypt(token)
    except ValueError:
        warnings.append(
            f"{name} cannot be decrypted with the configured encryption keys; enter it again"
        )
        return SecretState(is_set=True, masked=None)
    return SecretState(is_set=True, masked=crypto.mask(plaintext))


def _zendesk_missing(row: IntegrationSettings | None) -> list[str]:
    values = {
        "zendesk_url": row.zendesk_url if row else None,
        "zendesk_email": row.zendesk_email if row else None,
        "zendesk_api_token": row.zendesk_api_token_encrypted if row else None,
    }
    return [name for name in ZENDESK_ACCOUNT_FIELDS if not values[name]]


def _sandbox_in_use(row: IntegrationSettings | None) -> bool:
    """Mirrors integrations.zendesk_target: no account set, no URL set, sandbox enabled."""
    if not _zendesk_missing(row):
        return False
    return bool(get_settings().sandbox_enabled) and not (row and row.zendesk_url)


def webhook_url(public_id: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/webhooks/zendesk/{public_id}"


def _cascade_view(*, db: Session, user_id: int) -> CascadeOut:
    """The user's cascade options; a user who never changed them has the defaults."""
    row = learning.get_settings(db=db, user_id=user_id)
    if row is None:
        return CascadeOut(
            target_precision=cascade.DEFAULT_TARGET_PRECISION,
            learn_from_llm=False,
            use_llm_batch_api=False,
        )
    return CascadeOut(
        target_precision=row.target_precision,
        learn_from_llm=row.learn_from_llm,
        use_llm_batch_api=row.use_llm_batch_api,
    )


def settings_view(*, db: Session, user: User) -> SettingsOut:
    """The user's profile, integration settings (secrets masked) and cascade options. The
    integration row is created on first read so the webhook URL (it carries the row's public
    id) is stable."""
    row = ensure_row(db=db, user_id=user.id)
    warnings: list[str] = []
    secrets = {
        name: _secret_state(getattr(row, integrations.SECRET_COLUMNS[name]), name, warnings)
        for name in SECRET_FIELDS
    }
    retirement = llm_pricing.retirement_warning(row.openai_model, _today())
    if retirement:
        warnings.insert(0, retirement)
    return SettingsOut(
        profile=ProfileOut(email=user.email, full_name=user.full_name, timezone=user.timezone),
        integration=IntegrationOut(
            zendesk_url=row.zendesk_url,
            zendesk_email=row.zendesk_email,
            zendesk_api_token=secrets["zendesk_api_token"],
            zendesk_webhook_secret=secrets["zendesk_webhook_secret"],
            webhook_url=webhook_url(row.public_id),
            sandbox_in_use=_sandbox_in_use(row),
            openai_api_key=secrets["openai_api_key"],
            openai_model=row.openai_model,
            openai_model_shutdown_date=llm_pricing.shutdown_date(row.openai_model),
            openai_base_url=row.openai_base_url,
            analysis_mode=row.analysis_mode,
            write_tags=row.write_tags,
            write_note=row.write_note,
            reply_draft=row.reply_draft,
            redact_pii=row.redact_pii,
            tag_prefix=row.tag_prefix,
            polling_enabled=row.polling_enabled,
            polling_interval_s=row.polling_interval_s,
        ),
        cascade=_cascade_view(db=db, user_id=user.id),
        warnings=warnings,
    )


# --- writing -------------------------------------------------------------------------------


def update_settings(*, db: Session, user: User, update: SettingsUpdate) -> SettingsOut:
    """Apply the fields present in `update`; secrets are encrypted, null clears them."""
    changes = update.model_dump(exclude_unset=True)
    for name in PROFILE_FIELDS:
        if name in changes:
            setattr(user, name, changes.pop(name))
    cascade_changes = {name: changes.pop(name) for name in CASCADE_FIELDS if name in changes}
    if cascade_changes:
        # Also drops this process's cached cascade context of the user.
        learning.update_settings(db=db, user_id=user.id, **cascade_changes)
    for field in ("zendesk_url", "openai_base_url"):
        upstream_guard.check(field, changes.get(field))
    row = ensure_row(db=db, user_id=user.id)
    if "zendesk_url" in changes and changes["zendesk_url"] != row.zendesk_url:
        # A cursor from another Zendesk account means nothing in the new one.
        changes["polling_cursor"] = None
        changes["polling_last_run_at"] = None
    if changes:
        integrations.update(db=db, user_id=user.id, changes=changes)
    db.flush()
    logger.info(
        "settings updated: user_id=%s fields=%s",
        user.id,
        sorted(update.model_fields_set),
    )
    return settings_view(db=db, user=user)


# --- status --------------------------------------------------------------------------------


def integration_status(*, db: Session, user_id: int) -> IntegrationsStatus:
    """Which Zendesk and which analyzer processing will use, and what is missing."""
    row = integrations.get_row(db=db, user_id=user_id)
    missing = _zendesk_missing(row)
    if not missing:
        zendesk = ZendeskStatus(
            configured=True,
            source="account",
            missing=[],
            detail=f"Tickets are read from {row.zendesk_url if row else ''}",
        )
    elif _sandbox_in_use(row):
        zendesk = ZendeskStatus(
            configured=False,
            source="sandbox",
            missing=missing,
            detail="No Zendesk account is set: the built-in sandbox is used",
        )
    else:
        zendesk = ZendeskStatus(
            configured=False,
            source="none",
            missing=missing,
            detail=f"Zendesk is not configured: set {', '.join(missing)}",
        )

    key_set = bool(row and row.openai_api_key_encrypted)
    mode = row.analysis_mode if row else "auto"
    model = row.openai_model if row else "gpt-4o-mini"
    if not key_set:
        detail = "No OpenAI API key is set: tickets are analysed by the offline classifier"
    elif mode == "local":
        detail = "analysis_mode is local: tickets are analysed by the offline classifier"
    else:
        detail = f"Tickets are analysed by {model}"
    openai_status = OpenAIStatus(
        configured=key_set,
        source="account" if key_set and mode != "local" else "offline",
        missing=[] if key_set else ["openai_api_key"],
        model=model,
        analysis_mode=mode,
        detail=detail,
    )
    return IntegrationsStatus(zendesk=zendesk, openai=openai_status)


# --- connection tests ----------------------------------------------------------------------


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _zendesk_error_kind(exc: ZendeskError) -> ErrorKind:
    if isinstance(exc, ZendeskAuthError):
        return "auth"
    if isinstance(exc, ZendeskNotFound):
        return "not_found"
    if isinstance(exc, ZendeskInvalid):
        return "invalid"
    if isinstance(exc, ZendeskRateLimited):
        return "rate_limited"
    if exc.status_code is None:
        return "timeout" if isinstance(exc.__cause__, httpx.TimeoutException) else "unreachable"
    return "upstream"


def check_zendesk(*, uow: UnitOfWork, user_id: int) -> ZendeskTestResult:
    """Call Zendesk's users/me with the saved settings; raises NotConfigured if unset.
    The settings are read in a transaction of their own, closed before Zendesk is called."""
    with uow.transaction() as db:
        row = integrations.get_row(db=db, user_id=user_id)
    try:
        target = integrations.zendesk_target(row)
    except ValueError as exc:  # a token no configured key decrypts
        raise NotConfigured(
            f"Zendesk settings cannot be used: {exc}; enter zendesk_api_token again",
            details={"missing": ["zendesk_api_token"]},
        ) from exc
    settings = get_settings()
    source = "sandbox" if target.is_sandbox else "account"
    started = time.perf_counter()
    try:
        with ZendeskClient(
            target.base_url,
            target.credentials,
            requests_per_minute=settings.zendesk_requests_per_minute,
            timeout_s=min(settings.zendesk_timeout_s, CONNECTION_TEST_TIMEOUT_S),
            max_retries=0,
        ) as client:
            me = client.test_connection()
    except ZendeskError as exc:
        logger.info("zendesk connection test failed: user_id=%s %s", user_id, exc.message)
        return ZendeskTestResult(
            ok=False,
            latency_ms=_elapsed_ms(started),
            detail=exc.message,
            error_kind=_zendesk_error_kind(exc),
            upstream_status=exc.status_code,
            source=source,
            base_url=target.base_url,
        )
    user = ZendeskUser(
        id=me.get("id"), name=me.get("name"), email=me.get("email"), role=me.get("role")
    )
    warnings = []
    if user.role not in WRITING_ROLES:
        warnings.append(
            f"the Zendesk user's role is {user.role!r}: writing tags and notes needs an "
            "agent or admin"
        )
    return ZendeskTestResult(
        ok=True,
        latency_ms=_elapsed_ms(started),
        detail=f"Connected to {target.base_url} as {user.email} ({user.role})",
        warnings=warnings,
        source=source,
        base_url=target.base_url,
        user=user,
    )


def _llm_error_kind(exc: LLMError) -> ErrorKind:
    if exc.kind == "auth":
        return "auth"
    if exc.kind in ("timeout", "rate_limited"):
        return exc.kind
    if exc.status_code == 404:
        return "not_found"
    if exc.status_code is None and exc.kind == "upstream":
        return "unreachable"
    return "upstream"


def check_openai(*, uow: UnitOfWork, user_id: int) -> OpenAITestResult:
    """Retrieve the chosen model with the saved key; raises NotConfigured if no key is set.
    The settings are read in a transaction of their own, closed before the LLM is called."""
    with uow.transaction() as db:
        row = integrations.get_row(db=db, user_id=user_id)
    if row is None or not row.openai_api_key_encrypted:
        raise NotConfigured(
            "OpenAI is not configured: set openai_api_key with PUT /settings/",
            details={"missing": ["openai_api_key"]},
        )
    try:
        api_key = crypto.decrypt(row.openai_api_key_encrypted)
    except ValueError as exc:
        raise NotConfigured(
            f"OpenAI settings cannot be used: {exc}; enter openai_api_key again",
            details={"missing": ["openai_api_key"]},
        ) from exc
    model, base_url = row.openai_model, row.openai_base_url
    upstream_guard.check("openai_base_url", base_url)
    settings = get_settings()
    analyzer = LLMAnalyzer(
        api_key=api_key,
        model=model,
        base_url=base_url,
        timeout_s=min(settings.llm_timeout_s, CONNECTION_TEST_TIMEOUT_S),
        max_retries=0,
        prices=llm_pricing.load_prices(settings.llm_prices_json),
    )
    started = time.perf_counter()
    try:
        info = analyzer.test_connection(today=_today())
    except LLMError as exc:
        logger.info("openai connection test failed: user_id=%s %s", user_id, exc.message)
        return OpenAITestResult(
            ok=False,
            latency_ms=_elapsed_ms(started),
            detail=exc.message,
            error_kind=_llm_error_kind(exc),
            upstream_status=exc.status_code,
            model=model,
            base_url=base_url,
        )
    warning = info.get("retirement_warning")
    return OpenAITestResult(
        ok=True,
        latency_ms=info.get("latency_ms", _elapsed_ms(started)),
        detail=f"Model {info.get('model') or model} is available",
        warnings=[warning] if warning else [],
        model=info.get("model") or model,
        base_url=base_url,
        owned_by=info.get("owned_by"),
        shutdown_date=info.get("shutdown_date"),
        priced=info.get("priced"),
    )
