"""Upstream clients built from the settings they are given (never read from the environment
here): one place that knows which setting tunes which client, and the clients' life cycle."""

from __future__ import annotations

from app.config import Settings
from app.integrations.llm import LLMAnalyzer, clear_client_cache
from app.integrations.llm import clients as llm_clients
from app.integrations.llm.pricing import load_prices
from app.integrations.zendesk import ZendeskClient, ZendeskCredentials, close_all, get_client
from app.integrations.zendesk import pool as zendesk_pool


def zendesk_client(
    settings: Settings, base_url: str, credentials: ZendeskCredentials
) -> ZendeskClient:
    """The shared, pooled client of a Zendesk account, tuned by the settings."""
    return get_client(
        base_url,
        credentials,
        requests_per_minute=settings.zendesk_requests_per_minute,
        timeout_s=settings.zendesk_timeout_s,
        max_retries=settings.zendesk_max_retries,
        backoff_base_s=settings.zendesk_backoff_base_s,
    )


def llm_analyzer(
    settings: Settings,
    *,
    api_key: str,
    model: str,
    base_url: str | None,
    redact_pii: bool = True,
    reply_draft: bool = True,
    timeout_s: float | None = None,
    max_retries: int | None = None,
) -> LLMAnalyzer:
    """An analyzer on the account's shared connection pool (as many connections as a batch
    sends at once), with the settings' timeout, retries and price table (a connection test
    passes a shorter timeout and no retries)."""
    return LLMAnalyzer(
        api_key=api_key,
        model=model,
        base_url=base_url,
        timeout_s=settings.llm_timeout_s if timeout_s is None else timeout_s,
        max_retries=settings.llm_max_retries if max_retries is None else max_retries,
        redact_pii=redact_pii,
        reply_draft=reply_draft,
        prices=load_prices(settings.llm_prices_json),
        connections=settings.batch_concurrency,
    )


def configure_clients(settings: Settings) -> None:
    """Size the client caches (API start-up, worker start-up)."""
    zendesk_pool.clients.resize(settings.upstream_client_cache_size)
    llm_clients.clients.resize(settings.upstream_client_cache_size)


def close_clients() -> None:
    """Close every pooled upstream client (API shutdown, worker process exit)."""
    close_all()
    clear_client_cache()
