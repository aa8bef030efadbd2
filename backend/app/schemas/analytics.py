"""Analytics and feedback request/response models."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.enums import AnalysisSource, Category, Sentiment, Urgency
from app.schemas import examples


class Period(BaseModel):
    start: datetime
    end: datetime
    timezone: str = Field(description="IANA time zone deciding where a day starts")


class LabelCount(BaseModel):
    label: str
    count: int
    percentage: float = Field(description="Share of the analysed tickets in %, one decimal")


class Distribution(BaseModel):
    total: int
    items: list[LabelCount] = Field(description="Every label, in a fixed order")


class FieldAccuracy(BaseModel):
    rated: int = Field(description="Analyses with feedback for this field")
    correct: int = Field(description="Of those, how many the analysis got right")
    accuracy: float | None = Field(description="correct / rated; null when none is rated")


class Accuracy(BaseModel):
    rated_tickets: int = Field(description="Analyses with any feedback")
    category: FieldAccuracy
    urgency: FieldAccuracy
    sentiment: FieldAccuracy


class ProcessedCounts(BaseModel):
    today: int
    this_week: int = Field(description="Since Monday 00:00")
    this_month: int = Field(description="Since the 1st, 00:00")


class TrendPoint(BaseModel):
    period_start: date = Field(description="The local day, or the Monday of the week")
    tickets: int
    total_cost_usd: Decimal
    average_processing_time_ms: float | None


class RecentTicket(BaseModel):
    zendesk_ticket_id: int
    subject: str
    category: Category
    urgency: Urgency
    sentiment: Sentiment
    confidence: float
    source: AnalysisSource
    summary: str
    analysed_at: datetime


class Dashboard(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DASHBOARD]})

    period: Period
    processed: ProcessedCounts = Field(description="Relative to now, not to the period")
    tickets: int = Field(description="Analyses in the period")
    average_processing_time_ms: float | None
    total_cost_usd: Decimal
    average_cost_usd: Decimal | None
    categories: Distribution
    urgencies: Distribution
    sentiments: Distribution
    sources: Distribution
    daily_trend: list[TrendPoint]
    accuracy: Accuracy
    recent_tickets: list[RecentTicket] = Field(description="The last 10 analysed in the period")


class Trends(BaseModel):
    period: Period
    interval: Literal["day", "week"]
    points: list[TrendPoint]


class DistributionReport(BaseModel):
    period: Period
    distribution: Distribution


class FeedbackIn(BaseModel):
    """The correct labels for a ticket; fields left out keep their earlier feedback."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.FEEDBACK_IN]}
    )

    category: Category | None = None
    urgency: Urgency | None = None
    sentiment: Sentiment | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> FeedbackIn:
        if self.category is None and self.urgency is None and self.sentiment is None:
            raise ValueError("give at least one of category, urgency and sentiment")
        return self


class FeedbackOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [examples.FEEDBACK_OUT]}
    )

    zendesk_ticket_id: int
    category: Category
    urgency: Urgency
    sentiment: Sentiment
    feedback_category: Category | None
    feedback_urgency: Urgency | None
    feedback_sentiment: Sentiment | None
    feedback_at: datetime | None
