"""GET /analytics/cost: what the period's analyses cost by path, and what the cascade saved."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import UNAUTHORIZED
from app.auth import CurrentUser
from app.database import SessionDep
from app.schemas import ErrorResponse
from app.schemas.cost import CostReport
from app.services import cost_service

router = APIRouter(prefix="/analytics", tags=["analytics"], responses=UNAUTHORIZED)


@router.get(
    "/cost",
    response_model=CostReport,
    responses={
        422: {
            "model": ErrorResponse,
            "description": "start after end, a period over 366 days, or an unknown time zone",
        }
    },
)
def cost(
    user: CurrentUser,
    db: SessionDep,
    start: Annotated[
        datetime | None,
        Query(description="Inclusive; default end - 30 days. Without an offset: local time"),
    ] = None,
    end: Annotated[datetime | None, Query(description="Exclusive; default now")] = None,
    tz: Annotated[
        str | None,
        Query(max_length=64, description="IANA time zone for naive times; default your saved one"),
    ] = None,
) -> CostReport:
    """Cost per ticket by path (local, llm, fallback, batch), LLM calls avoided, and the
    estimated savings against sending every ticket to the LLM."""
    return CostReport.model_validate(
        cost_service.cost_report(db=db, user=user, start=start, end=end, tz=tz)
    )
