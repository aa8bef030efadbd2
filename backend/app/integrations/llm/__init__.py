"""Ticket analysis with an OpenAI-compatible model: the request builder, the analyzer, its
typed errors, pooled SDK clients and the price table."""

from app.integrations.llm.analyzer import LLMAnalyzer, LLMResult
from app.integrations.llm.clients import clear_client_cache
from app.integrations.llm.errors import (
    LLMAuthError,
    LLMError,
    LLMErrorKind,
    LLMMalformedOutputError,
    LLMRateLimitedError,
    LLMRefusalError,
    LLMTimeoutError,
    LLMUpstreamError,
)
from app.integrations.llm.prompt import CHARS_PER_TOKEN, SYSTEM_PROMPT, build_messages
from app.integrations.llm.request import (
    PROMPT_CACHE_KEY,
    LLMRequest,
    RequestOptions,
    build_request,
)
from app.integrations.llm.schema import TicketAnalysisOutput, normalize_tag, response_format_schema

__all__ = [
    "CHARS_PER_TOKEN",
    "PROMPT_CACHE_KEY",
    "SYSTEM_PROMPT",
    "LLMAnalyzer",
    "LLMAuthError",
    "LLMError",
    "LLMErrorKind",
    "LLMMalformedOutputError",
    "LLMRateLimitedError",
    "LLMRefusalError",
    "LLMRequest",
    "LLMResult",
    "LLMTimeoutError",
    "LLMUpstreamError",
    "RequestOptions",
    "TicketAnalysisOutput",
    "build_messages",
    "build_request",
    "clear_client_cache",
    "normalize_tag",
    "response_format_schema",
]
