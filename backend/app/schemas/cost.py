"""Response models of GET /analytics/cost."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from app.enums import AnalysisSource


class CostPeriod(BaseModel):
    start: datetime
    end: datetime
    timezone: str


class PathCost(BaseModel):
    source: AnalysisSource = Field(description="Which path answered: local, llm, fallback, batch")
    tickets: int
    total_cost_usd: Decimal
    cost_per_ticket_usd: Decimal | None = Field(description="null when no ticket took this path")
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int


class CostReport(BaseModel):
    period: CostPeriod
    tickets: int = Field(description="Analyses created in the period")
    total_cost_usd: Decimal
    cost_per_ticket_usd: Decimal | None
    by_path: list[PathCost] = Field(description="Every path, in a fixed order")
    llm_calls_avoided: int = Field(
        description="Tickets the offline model answered while an LLM was configured "
        "(cascade confident, or analysis_mode local)"
    )
    llm_batch_pending: int = Field(
        description="Tickets answered offline for now, their LLM answer due from the Batch API"
    )
    all_llm_cost_per_ticket_usd: Decimal | None = Field(
        description="What one ticket costs on the synchronous LLM path (see all_llm_basis)"
    )
    all_llm_basis: Literal["observed", "estimated"] | None = Field(
        description="observed: average of your synchronous LLM analyses (this period, else "
        "all time); estimated: prompt tokens ~ characters / 4 at your model's list price"
    )
    all_llm_cost_usd: Decimal | None = Field(
        description="Estimated cost had every ticket of the period gone to the LLM"
    )
    estimated_savings_usd: Decimal | None = Field(description="all_llm_cost_usd - total_cost_usd")
    savings_percentage: float | None = Field(description="Savings in % of all_llm_cost_usd")
