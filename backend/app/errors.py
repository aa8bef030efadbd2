"""One error hierarchy; main.py maps every error to one JSON shape.

Shape: {"error": {"code": str, "message": str, "details": list | None, "request_id": str}}
"""

from __future__ import annotations

import math
from typing import Any

# When an upstream's 429 named no wait, how long clients are told to wait.
DEFAULT_UPSTREAM_RETRY_AFTER_S = 30


class AppError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers
        if code:
            self.code = code


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"


class NotConfigured(BadRequest):
    code = "not_configured"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "Could not validate credentials", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Unprocessable(AppError):
    status_code = 422
    code = "validation_error"


class TooManyRequests(AppError):
    status_code = 429
    code = "rate_limited"


class UpstreamError(AppError):
    """An upstream (Zendesk, LLM) failed or could not be reached."""

    status_code = 502
    code = "upstream_error"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"


def upstream_rate_limited(
    upstream: str, message: str, retry_after_s: float | None, *, code: str
) -> ServiceUnavailable:
    """An upstream's 429 that outlasted our retries: a 503 with the upstream's wait as
    Retry-After (not a 502: nothing is broken, the client should come back later)."""
    retry_after = (
        max(1, math.ceil(retry_after_s)) if retry_after_s else DEFAULT_UPSTREAM_RETRY_AFTER_S
    )
    return ServiceUnavailable(
        f"{upstream} is rate limiting this account; try again in {retry_after} s ({message})",
        code=code,
        headers={"Retry-After": str(retry_after)},
        details={"retry_after_s": retry_after},
    )
