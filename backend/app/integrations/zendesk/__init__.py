"""The Zendesk Support API client: typed errors, a shared rate limit per account, one pooled
client per account."""

from app.integrations.zendesk.client import (
    MAX_IDS_PER_CALL,
    NoteResult,
    ZendeskClient,
)
from app.integrations.zendesk.credentials import ZendeskCredentials, zendesk_base_url
from app.integrations.zendesk.errors import (
    ZendeskAuthError,
    ZendeskConflict,
    ZendeskError,
    ZendeskInvalid,
    ZendeskJobFailed,
    ZendeskJobTimeout,
    ZendeskNotFound,
    ZendeskRateLimited,
    ZendeskUnavailable,
)
from app.integrations.zendesk.pool import close_all, get_client

__all__ = [
    "MAX_IDS_PER_CALL",
    "NoteResult",
    "ZendeskAuthError",
    "ZendeskClient",
    "ZendeskConflict",
    "ZendeskCredentials",
    "ZendeskError",
    "ZendeskInvalid",
    "ZendeskJobFailed",
    "ZendeskJobTimeout",
    "ZendeskNotFound",
    "ZendeskRateLimited",
    "ZendeskUnavailable",
    "close_all",
    "get_client",
    "zendesk_base_url",
]
