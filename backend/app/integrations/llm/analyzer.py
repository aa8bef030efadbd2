"""Ticket analysis with an OpenAI-compatible model (official SDK, structured outputs)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import openai

from app.integrations import rate_limits
from app.integrations.llm import pricing
from app.integrations.llm.clients import sdk_client, shared_transport
from app.integrations.llm.errors import (
    LLMMalformedOutputError,
    LLMRateLimitedError,
    LLMRefusalError,
    LLMUpstreamError,
    status_error,
    translate,
)
from app.integrations.llm.pricing import ModelPrice
from app.integrations.llm.request import LLMRequest, RequestOptions, build_request
from app.integrations.llm.schema import TicketAnalysisOutput


def _parse_completion(completion: Any) -> TicketAnalysisOutput:
    """The analysis in a chat.completion body; LLMError for anything outside the schema."""
    try:
        choice = completion["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMMalformedOutputError("the response is not a chat completion") from exc
    if message.get("refusal"):
        raise LLMRefusalError(f"the model refused: {str(message['refusal'])[:200]}")
    if choice.get("finish_reason") == "length":
        raise LLMMalformedOutputError("the response was cut off at the output token limit")
    if choice.get("finish_reason") == "content_filter":
        raise LLMRefusalError("the response was stopped by the content filter")
    content = message.get("content")
    if not content:
        raise LLMMalformedOutputError("the response has no content")
    try:
        return TicketAnalysisOutput.model_validate_json(content)
    except ValueError as exc:
        raise translate(exc) from exc


@dataclass(frozen=True)
class LLMResult:
    output: TicketAnalysisOutput
    model: str
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    latency_ms: int
    redaction_counts: dict[str, int] = field(default_factory=dict)
    reasoning_tokens: int = 0
    cost_known: bool = True
    served_model: str | None = None


def _rate_limit_taken(wait_s: float) -> LLMRateLimitedError:
    return LLMRateLimitedError(f"the key's rate limit is taken for {wait_s:.0f}s")


def account_limiter(
    api_key: str,
    base_url: str | None,
    store: rate_limits.Store | None = None,
    max_wait_s: float = rate_limits.DEFAULT_MAX_WAIT_S,
) -> rate_limits.UpstreamLimiter:
    """The requests and tokens budgets of one key at one endpoint, shared by every process;
    unpaced until the provider's `x-ratelimit-*` headers tell the limits."""
    key_hash = hashlib.sha256(api_key.encode()).hexdigest()
    return rate_limits.UpstreamLimiter(
        "llm",
        f"{base_url or 'openai'}|{key_hash}",
        store or rate_limits.shared_store(),
        pacing=rate_limits.Pacing(max_wait_s=max_wait_s),
    )


class LLMAnalyzer:
    """Classifies one ticket per call; safe to share between threads. Calls are paced to the
    key's limits (requests and estimated tokens a minute) learned from the provider."""

    def __init__(
        self,
        api_key: str,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        timeout_s: float = 20.0,
        max_retries: int = 2,
        max_input_tokens: int = 2000,
        redact_pii: bool = True,
        reply_draft: bool = True,
        prices: Mapping[str, ModelPrice] | None = None,
        max_output_tokens: int = 800,
        limits_store: rate_limits.Store | None = None,
        max_rate_wait_s: float = rate_limits.DEFAULT_MAX_WAIT_S,
        connections: int = 50,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        if timeout_s <= 0 or max_input_tokens <= 0 or max_output_tokens <= 0:
            raise ValueError("timeout_s, max_input_tokens and max_output_tokens must be positive")
        if max_retries < 0:
            raise ValueError("max_retries must be zero or more")
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_input_tokens = max_input_tokens
        self.redact_pii = redact_pii
        self.reply_draft = reply_draft
        self.max_output_tokens = max_output_tokens
        self.prices: Mapping[str, ModelPrice] = pricing.DEFAULT_PRICES if prices is None else prices
        price = pricing.price_for(model, self.prices)
        self.is_reasoning_model = bool(price and price.reasoning)
        self._options = self.request_options()
        self.limiter = account_limiter(api_key, base_url, limits_store, max_rate_wait_s)
        self._api_key = api_key
        self._transport = shared_transport(api_key, base_url, connections)

    def __repr__(self) -> str:
        return f"LLMAnalyzer(model={self.model!r}, base_url={self.base_url!r})"

    def request_options(self) -> RequestOptions:
        return RequestOptions(
            model=self.model,
            max_input_tokens=self.max_input_tokens,
            max_output_tokens=self.max_output_tokens,
            redact_pii=self.redact_pii,
            reply_draft=self.reply_draft,
            reasoning_model=self.is_reasoning_model,
        )

    def build_request(self, subject: str, body: str) -> LLMRequest:
        """The request `analyze` sends for this ticket (the Batch API sends the same)."""
        return build_request(subject, body, self._options)

    def analyze(self, subject: str, body: str) -> LLMResult:
        """Classify a ticket; raises LLMError (see `kind`) on any failure."""
        return self.send(self.build_request(subject, body))

    def reserve(self, requests: Sequence[LLMRequest]) -> list[float | LLMRateLimitedError]:
        """Slots for requests about to be sent together (a batch's), reserved in one round
        trip to the shared limiter instead of one each: when each may be sent
        (`time.monotonic()`), or the error of one whose wait is beyond `max_rate_wait_s`."""
        waits = self.limiter.reserve_many([request.estimated_tokens() for request in requests])
        now = time.monotonic()
        return [now + wait if wait >= 0 else _rate_limit_taken(-wait) for wait in waits]

    def send(
        self, request: LLMRequest, slot: float | LLMRateLimitedError | None = None
    ) -> LLMResult:
        """Send a built request at its reserved `slot` (from `reserve`), or with no slot
        once the limiter gives it one; raises LLMError (see `kind`) on any failure."""
        estimated_tokens = request.estimated_tokens()
        if isinstance(slot, LLMRateLimitedError):
            raise slot
        if slot is None:
            try:
                self.limiter.acquire(tokens=estimated_tokens)
            except rate_limits.WaitTooLong as exc:
                raise _rate_limit_taken(exc.wait_s) from exc
        elif (wait_s := slot - time.monotonic()) > 0:
            time.sleep(wait_s)
        started = time.perf_counter()
        # Sent as built (the body's constant prompt and schema encoded once per process)
        # through the account's transport, not the SDK: see `transport` for the CPU it saves.
        response = self._transport.post(
            request.content(), timeout_s=self.timeout_s, max_retries=self.max_retries
        )
        self.limiter.learn(rate_limits.from_openai_headers(response.headers))
        if response.status >= 300:
            raise status_error(response.status, response.headers, response.body)
        try:
            completion = json.loads(response.body)
        except ValueError as exc:
            raise translate(exc) from exc
        latency_ms = round((time.perf_counter() - started) * 1000)
        result = self.result_from_completion(
            completion, latency_ms=latency_ms, redaction_counts=request.redaction_counts
        )
        # Providers count a request's prompt plus its output cap (max_completion_tokens)
        # against tokens a minute, whatever it generated: settle the prompt's estimate only.
        output_cap = int(request.body.get("max_completion_tokens") or result.output_tokens)
        self.limiter.settle_tokens(estimated_tokens, result.input_tokens + output_cap)
        if not self.reply_draft and result.output.reply_draft:
            output = result.output.model_copy(update={"reply_draft": ""})
            result = replace(result, output=output)
        return result

    def result_from_completion(
        self,
        completion: dict[str, Any],
        *,
        latency_ms: int = 0,
        redaction_counts: dict[str, int] | None = None,
        batch: bool = False,
    ) -> LLMResult:
        """The analysis, tokens and cost in a chat.completion body (also a Batch API result
        line's body, priced at the batch rate); LLMError for anything outside the schema."""
        output = _parse_completion(completion)
        usage = completion.get("usage") or {}
        input_tokens = int(usage.get("prompt_tokens") or 0)
        output_tokens = int(usage.get("completion_tokens") or 0)
        cached_tokens = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        reasoning_tokens = int(
            (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
        )
        return LLMResult(
            output=output,
            model=self.model,
            input_tokens=input_tokens,
            cached_input_tokens=cached_tokens,
            output_tokens=output_tokens,
            cost_usd=pricing.cost_usd(
                self.model,
                input_tokens,
                cached_tokens,
                output_tokens,
                batch=batch,
                prices=self.prices,
            ),
            latency_ms=latency_ms,
            redaction_counts=dict(redaction_counts or {}),
            reasoning_tokens=reasoning_tokens,
            cost_known=pricing.is_known_model(self.model, self.prices),
            served_model=completion.get("model"),
        )

    def test_connection(self, today: date | None = None) -> dict[str, Any]:
        """Check key, endpoint and model with GET /models/{model}; raises LLMError on failure."""
        started = time.perf_counter()
        client = sdk_client(
            self._api_key, self.base_url, timeout_s=self.timeout_s, max_retries=self.max_retries
        )
        try:
            info = client.models.retrieve(self.model)
        except openai.NotFoundError as exc:
            raise LLMUpstreamError(
                f"model {self.model!r} is not available at this endpoint",
                status_code=404,
                request_id=exc.request_id,
            ) from exc
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        finally:
            client.close()
        latency_ms = round((time.perf_counter() - started) * 1000)
        shutdown = _parse_date(getattr(info, "shutdown_date", None))
        today = today or datetime.now(UTC).date()
        return {
            "ok": True,
            "model": info.id,
            "owned_by": info.owned_by,
            "created": info.created,
            "shutdown_date": shutdown.isoformat() if shutdown else None,
            "retirement_warning": pricing.retirement_warning(self.model, today, shutdown),
            "priced": pricing.is_known_model(self.model, self.prices),
            "latency_ms": latency_ms,
        }


def _parse_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, UTC).date()
    return None
