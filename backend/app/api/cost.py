"""GET /analytics/cost: what the period's analyses cost by path, and what the cascade saved."""

from __future__ import annotations

from fastapi import APIRouter

from app.analytics import costs
from app.api.deps import BAD_PERIOD, UNAUTHORIZED, PeriodDep
from app.reads import ReaderDep
from app.schemas.cost import CostReport

router = APIRouter(prefix="/analytics", tags=["analytics"], responses=UNAUTHORIZED)


@router.get("/cost", response_model=CostReport, responses=BAD_PERIOD)
async def cost(window: PeriodDep, reader: ReaderDep) -> CostReport:
    """Cost per ticket by path (local, llm, fallback, batch), LLM calls avoided, and the
    estimated savings against sending every ticket to the LLM."""
    report = await reader.run(lambda db: costs.cost_report(db=db, window=window))
    return CostReport.model_validate(report)
