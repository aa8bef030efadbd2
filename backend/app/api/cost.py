"""GET /analytics/cost: what the period's analyses cost by path, and what the cascade saved."""

from __future__ import annotations

from fastapi import APIRouter

from app.analytics import costs
from app.api.deps import BAD_PERIOD, UNAUTHORIZED, PeriodDep
from app.database import ReadSessionDep
from app.schemas.cost import CostReport

router = APIRouter(prefix="/analytics", tags=["analytics"], responses=UNAUTHORIZED)


@router.get("/cost", response_model=CostReport, responses=BAD_PERIOD)
def cost(window: PeriodDep, db: ReadSessionDep) -> CostReport:
    """Cost per ticket by path (local, llm, fallback, batch), LLM calls avoided, and the
    estimated savings against sending every ticket to the LLM."""
    return CostReport.model_validate(costs.cost_report(db=db, window=window))
