"""Label enums shared by the models, the API schemas and the LLM output schema."""

from enum import StrEnum


class Category(StrEnum):
    bug = "bug"
    feature = "feature"
    billing = "billing"
    support = "support"
    other = "other"


class Urgency(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class Sentiment(StrEnum):
    positive = "positive"
    neutral = "neutral"
    negative = "negative"


class AnalysisSource(StrEnum):
    """Which path produced an analysis."""

    llm = "llm"
    local = "local"
    fallback = "fallback"
    batch = "batch"
