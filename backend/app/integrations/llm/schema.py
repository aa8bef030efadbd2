"""The model's answer: `TicketAnalysisOutput`, sent as a strict JSON schema and validated on
the way back, so a caller only ever sees enum labels, bounded text and slug tags."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import openai
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.enums import Category, Sentiment, Urgency

SUMMARY_MAX_CHARS = 300
REPLY_DRAFT_MAX_CHARS = 600
MAX_TAGS = 5
TAG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
LANGUAGE_PATTERN = r"^[a-z]{2}$"

_SLUG_INVALID = re.compile(r"[^a-z0-9_-]+")
_SLUG_RE = re.compile(TAG_PATTERN)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalize_tag(raw: str) -> str | None:
    """A lowercase slug (`billing-issue`) or None when nothing usable is left."""
    slug = _SLUG_INVALID.sub("-", raw.strip().lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-_")[:40].rstrip("-_")
    return slug if _SLUG_RE.match(slug) else None


# Sent as a strict JSON schema: every field is required and none has a default. The "before"
# validators only normalise (tags to slugs, confidence clamped); anything else outside the
# schema fails validation and becomes an LLMMalformedOutputError.
class TicketAnalysisOutput(BaseModel):
    """Triage labels for one customer support ticket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Category = Field(description="bug, feature, billing, support or other")
    urgency: Urgency = Field(description="low, medium or high")
    sentiment: Sentiment = Field(description="the customer's tone: positive, neutral or negative")
    confidence: float = Field(ge=0.0, le=1.0, description="confidence in the category, 0 to 1")
    language: str = Field(
        pattern=LANGUAGE_PATTERN, description="ISO 639-1 code of the ticket language, e.g. en"
    )
    summary: str = Field(
        max_length=SUMMARY_MAX_CHARS, description="one or two neutral sentences for the agent"
    )
    reply_draft: str = Field(
        max_length=REPLY_DRAFT_MAX_CHARS,
        description="a short first reply to the customer, or empty",
    )
    suggested_tags: list[str] = Field(
        max_length=MAX_TAGS,
        description="up to 5 lowercase slug tags, e.g. refund, login-issue",
        json_schema_extra={"items": {"type": "string", "pattern": TAG_PATTERN}},
    )

    @field_validator("confidence", mode="before")
    @classmethod
    def _clamp_confidence(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return min(1.0, max(0.0, float(value)))
        return value

    @field_validator("language", mode="before")
    @classmethod
    def _normalize_language(cls, value: Any) -> Any:
        if isinstance(value, str):
            code = value.strip().lower().replace("_", "-")
            return code.split("-", 1)[0] if "-" in code else code
        return value

    @field_validator("summary", "reply_draft", mode="before")
    @classmethod
    def _clean_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _CONTROL_CHARS.sub("", value).strip()
        return value

    @field_validator("suggested_tags", mode="before")
    @classmethod
    def _normalize_tags(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        tags: list[str] = []
        for raw in value:
            if not isinstance(raw, str):
                continue
            tag = normalize_tag(raw)
            if tag is not None and tag not in tags:
                tags.append(tag)
        return tags[:MAX_TAGS]


@lru_cache(maxsize=1)
def response_format_schema() -> dict[str, Any]:
    """The strict JSON-schema response format for TicketAnalysisOutput, built once.

    The SDK's public `pydantic_function_tool` makes the strict schema (every field required,
    no additional properties) that `chat.completions.parse()` would send; we keep only it.
    """
    tool = openai.pydantic_function_tool(TicketAnalysisOutput)
    return {
        "type": "json_schema",
        "json_schema": {
            "name": TicketAnalysisOutput.__name__,
            "strict": True,
            "schema": tool["function"]["parameters"],
        },
    }
