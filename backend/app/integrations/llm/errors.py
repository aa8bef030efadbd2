"""Typed failures of an LLM call: every failure is an `LLMError` with a `kind`; the caller
decides whether to retry or to fall back to the offline analyzer."""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Mapping
from typing import ClassVar, Literal

import openai
import pydantic

LLMErrorKind = Literal["timeout", "rate_limited", "upstream", "auth", "malformed", "refusal"]


class LLMError(Exception):
    """Base of all analysis failures; `kind` says which, `retryable` whether trying later helps."""

    kind: ClassVar[LLMErrorKind] = "upstream"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        if self.kind in ("timeout", "rate_limited"):
            return True
        if self.kind == "upstream":
            return (
                self.status_code is None
                or self.status_code in (408, 409)
                or self.status_code >= 500
            )
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, message={self.message!r})"


class LLMTimeoutError(LLMError):
    kind = "timeout"


class LLMRateLimitedError(LLMError):
    kind = "rate_limited"


class LLMUpstreamError(LLMError):
    kind = "upstream"


class LLMAuthError(LLMError):
    kind = "auth"


class LLMMalformedOutputError(LLMError):
    kind = "malformed"


class LLMRefusalError(LLMError):
    kind = "refusal"


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """When the upstream asks to be called again: `retry-after-ms`, else `retry-after`
    (seconds or an HTTP date), in seconds from now; None when it says nothing usable."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            seconds = _seconds_until(value) if name == "retry-after" else None
        if seconds is not None and math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def _seconds_until(http_date: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(http_date).timestamp() - time.time()
    except (ValueError, TypeError, IndexError):
        return None


def _message_in(body: object) -> str | None:
    """The `message` of an error body (`{"error": {"message": ...}}`, or the error itself)."""
    if isinstance(body, dict):
        body = body.get("error", body)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:300]
    return None


def status_error(status: int, headers: Mapping[str, str], content: bytes) -> LLMError:
    """The typed error of an answer with an error status (a 3xx too: never followed)."""
    try:
        body: object = json.loads(content)
    except ValueError:
        body = None
    detail = _message_in(body) or content.decode(errors="replace").strip()[:300]
    return _status_error(status, detail or f"HTTP {status}", headers, headers.get("x-request-id"))


def _status_error(
    status: int, detail: str, headers: Mapping[str, str], request_id: str | None
) -> LLMError:
    if status == 429:
        return LLMRateLimitedError(
            f"rate limited: {detail}",
            status_code=status,
            retry_after_s=retry_after_s(headers),
            request_id=request_id,
        )
    if status in (401, 403):
        return LLMAuthError(
            f"authentication failed ({status}): {detail}",
            status_code=status,
            request_id=request_id,
        )
    return LLMUpstreamError(
        f"model endpoint error {status}: {detail}", status_code=status, request_id=request_id
    )


def translate(exc: Exception) -> LLMError:
    """Map an SDK / parsing exception onto our typed errors; never leaks the API key."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeoutError("the model did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return LLMUpstreamError(f"cannot reach the model endpoint: {exc.message}")
    if isinstance(exc, openai.APIStatusError):
        status = 429 if isinstance(exc, openai.RateLimitError) else exc.status_code
        detail = _message_in(exc.body) or exc.message[:300]
        return _status_error(status, detail, exc.response.headers, exc.request_id)
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return LLMRefusalError("the response was stopped by the content filter")
    if isinstance(exc, openai.LengthFinishReasonError):
        return LLMMalformedOutputError("the response was cut off at the output token limit")
    if isinstance(exc, (pydantic.ValidationError, json.JSONDecodeError, ValueError)):
        return LLMMalformedOutputError(f"the response does not match the schema: {_short(exc)}")
    if isinstance(exc, openai.APIResponseValidationError):
        return LLMMalformedOutputError(f"the response is not a chat completion: {exc.message}")
    return LLMUpstreamError(f"model client error: {type(exc).__name__}: {_short(exc)}")


def _short(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'response'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)[:3]
        ]
        return "; ".join(problems)
    return str(exc)[:300]
