"""The one builder of a chat completion request for a ticket, used by the live call, the
Batch API and the benches, so what is priced and batched is what is sent."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from app.integrations.llm.prompt import (
    CHARS_PER_TOKEN,
    SYSTEM_PROMPT,
    build_messages,
    prepare_ticket,
)
from app.integrations.llm.schema import response_format_schema

PROMPT_CACHE_KEY = "ticket-triage-v1"


@dataclass(frozen=True)
class RequestOptions:
    """How a ticket is turned into a request: the model and its budgets."""

    model: str
    max_input_tokens: int = 2000
    max_output_tokens: int = 800
    redact_pii: bool = True
    reply_draft: bool = True
    reasoning_model: bool = False


# The SDK's own encoding of a request body (`openai._utils._json.openapi_dumps`): compact,
# UTF-8, no NaN. `LLMRequest.content` gives the same bytes.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class _Constants:
    """Values sent unchanged in every request (the system prompt, the response schema):
    encoded once, recognised by identity."""

    def __init__(self) -> None:
        self._encoded: dict[int, tuple[Any, bytes, int]] = {}

    def register(self, value: Any) -> None:
        self._encoded[id(value)] = (value, _encode(value).encode(), len(json.dumps(value)))

    def lookup(self, value: Any) -> tuple[bytes, int] | None:
        found = self._encoded.get(id(value))
        return (found[1], found[2]) if found is not None and found[0] is value else None


_constants = _Constants()
_constants.register(SYSTEM_PROMPT)
_constants.register(response_format_schema())


def _encoded(value: Any) -> bytes:
    known = _constants.lookup(value)
    if known is not None:
        return known[0]
    if isinstance(value, dict):
        items = (_encode(key).encode() + b":" + _encoded(item) for key, item in value.items())
        return b"{" + b",".join(items) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(_encoded(item) for item in value) + b"]"
    return _encode(value).encode()


def _schema_chars(response_format: Any) -> int:
    known = _constants.lookup(response_format)
    return known[1] if known is not None else len(json.dumps(response_format or {}))


@dataclass(frozen=True)
class LLMRequest:
    """A `/chat/completions` body and what redaction replaced in the ticket text."""

    body: dict[str, Any]
    redaction_counts: dict[str, int]

    def content(self) -> bytes:
        """The body as sent: the bytes the SDK would encode, with the constant prompt and
        schema encoded once per process rather than per request."""
        return _encoded(self.body)

    def estimated_tokens(self) -> int:
        """What the request counts against a tokens-per-minute limit, estimated before it
        is sent: the prompt (messages and response schema, ~4 characters a token, as
        providers estimate) plus its output cap, which providers count in full."""
        messages = self.body.get("messages") or []
        text_chars = sum(len(str(message.get("content") or "")) for message in messages)
        schema_chars = _schema_chars(self.body.get("response_format"))
        prompt = math.ceil((text_chars + schema_chars) / CHARS_PER_TOKEN) + 4 * len(messages)
        return prompt + int(self.body.get("max_completion_tokens") or 0)


def build_request(subject: str, body: str, options: RequestOptions) -> LLMRequest:
    """Prepared text (redacted, cut to the budget, delimited), the stable system prompt, the
    strict response schema and the sampling options of the model."""
    ticket = prepare_ticket(
        subject or "",
        body or "",
        max_input_tokens=options.max_input_tokens,
        redact_pii=options.redact_pii,
    )
    request: dict[str, Any] = {
        "model": options.model,
        "messages": build_messages(ticket.subject, ticket.body, reply_draft=options.reply_draft),
        "response_format": response_format_schema(),
        "max_completion_tokens": options.max_output_tokens,
        "store": False,
        "prompt_cache_key": PROMPT_CACHE_KEY,
    }
    if options.reasoning_model:
        request["reasoning_effort"] = "none"
    else:
        request["temperature"] = 0
    return LLMRequest(body=request, redaction_counts=ticket.redaction_counts)
