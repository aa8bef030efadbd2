"""Typed Zendesk errors, and how an error response maps onto them."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class ZendeskError(Exception):
    """A failed Zendesk call; `message` carries Zendesk's own error code and description."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        zendesk_error: str | None = None,
        details: Any = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.zendesk_error = zendesk_error
        self.details = details
        self.request_id = request_id


class ZendeskAuthError(ZendeskError):
    """401/403: wrong credentials or missing permission. Not retried."""


class ZendeskNotFound(ZendeskError):
    """404. Not retried."""


class ZendeskInvalid(ZendeskError):
    """400/422: Zendesk rejected the request (see `details`). Not retried."""


class ZendeskConflict(ZendeskError):
    """409: a safe update found the ticket changed since it was read."""


class ZendeskRateLimited(ZendeskError):
    """429 after retries, or a Retry-After longer than we are willing to wait."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s


class ZendeskUnavailable(ZendeskError):
    """5xx, timeouts or connection failures after retries (or a write whose outcome is
    unknown, which we do not repeat)."""


class ZendeskJobFailed(ZendeskError):
    """An update_many job ended as failed or killed."""

    def __init__(self, message: str, *, job_status: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job_status = job_status


class ZendeskJobTimeout(ZendeskError):
    """An update_many job was still queued or working when we stopped waiting."""

    def __init__(self, message: str, *, job_status: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job_status = job_status


def json_body(response: httpx.Response, method: str, path: str) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        data = response.json()
    except ValueError as exc:
        raise ZendeskError(
            f"Zendesk {method} {path} returned {response.status_code} with a non-JSON body",
            status_code=response.status_code,
        ) from exc
    return data if isinstance(data, dict) else {"data": data}


def retry_after_s(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


_ERROR_CLASSES: dict[int, type[ZendeskError]] = {
    400: ZendeskInvalid,
    401: ZendeskAuthError,
    403: ZendeskAuthError,
    404: ZendeskNotFound,
    409: ZendeskConflict,
    422: ZendeskInvalid,
    429: ZendeskRateLimited,
}


def error_from_response(response: httpx.Response, method: str, path: str) -> ZendeskError:
    """Map an error response to a typed error carrying Zendesk's code and description."""
    status = response.status_code
    code: str | None = None
    description: str | None = None
    details: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("title") or error.get("code")
            description = error.get("message")
        elif isinstance(error, str):
            code = error
        description = body.get("description") or description
        details = body.get("details")
    elif response.text.strip():
        description = response.text.strip()[:300]
    summary = ": ".join(part for part in (code, description) if part) or response.reason_phrase
    if details:
        summary = f"{summary} {details}"
    if status >= 500:
        error_class: type[ZendeskError] = ZendeskUnavailable
    else:
        error_class = _ERROR_CLASSES.get(status, ZendeskError)
    return error_class(
        f"Zendesk {method} {path} returned {status}: {summary}",
        status_code=status,
        zendesk_error=code,
        details=details,
        request_id=response.headers.get("X-Zendesk-Request-Id"),
    )


def as_rate_limited(error: ZendeskError, retry_after_s: float | None) -> ZendeskRateLimited:
    return ZendeskRateLimited(
        error.message,
        retry_after_s=retry_after_s,
        status_code=error.status_code,
        zendesk_error=error.zendesk_error,
        details=error.details,
        request_id=error.request_id,
    )
