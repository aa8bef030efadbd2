"""Analytics over the current user's analyses: dashboard, trends, distributions, CSV export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from app.api.deps import UNAUTHORIZED
from app.auth import CurrentUser
from app.database import SessionDep, get_db
from app.errors import Unprocessable
from app.schemas import ErrorResponse
from app.schemas.analytics import Dashboard, DistributionReport, Trends
from app.services import analytics_service
from app.services.analytics_service import Window

router = APIRouter(
    prefix="/analytics",
    tags=["analytics"],
    responses={
        **UNAUTHORIZED,
        422: {
            "model": ErrorResponse,
            "description": "start after end, a period over 366 days, or an unknown time zone",
        },
    },
)

# Kept open until the streamed response has been sent (SessionDep closes on return).
StreamingSessionDep = Annotated[Session, Depends(get_db, scope="request")]


def period(
    user: CurrentUser,
    start: Annotated[
        datetime | None,
        Query(description="Inclusive; default end - 30 days. Without an offset: local time"),
    ] = None,
    end: Annotated[datetime | None, Query(description="Exclusive; default now")] = None,
    tz: Annotated[
        str | None,
        Query(max_length=64, description="IANA time zone for days; default your saved one"),
    ] = None,
) -> Window:
    try:
        return analytics_service.resolve_window(user=user, start=start, end=end, tz=tz)
    except OverflowError as exc:  # e.g. end=0001-01-01: end - 30 days is before year 1
        raise Unprocessable("start/end: outside the supported range of dates") from exc


PeriodDep = Annotated[Window, Depends(period)]


@router.get("/dashboard", response_model=Dashboard)
def dashboard(window: PeriodDep, db: SessionDep) -> Dashboard:
    """Volumes, cost, label distributions, a daily trend, accuracy and the latest tickets."""
    return Dashboard.model_validate(analytics_service.dashboard(db, window), from_attributes=True)


@router.get("/trends", response_model=Trends)
def trends(window: PeriodDep, db: SessionDep, interval: Literal["day", "week"] = "day") -> Trends:
    """Tickets, cost and average processing time per local day or ISO week."""
    points = analytics_service.trend(db, window, interval)
    return Trends.model_validate(
        {"period": window.period(), "interval": interval, "points": points}
    )


@router.get("/categories", response_model=DistributionReport)
def categories(window: PeriodDep, db: SessionDep) -> DistributionReport:
    """How many analyses of the period fell into each category."""
    return DistributionReport.model_validate(
        analytics_service.distribution_report(db, window, "category")
    )


@router.get("/sentiments", response_model=DistributionReport)
def sentiments(window: PeriodDep, db: SessionDep) -> DistributionReport:
    """How many analyses of the period had each sentiment."""
    return DistributionReport.model_validate(
        analytics_service.distribution_report(db, window, "sentiment")
    )


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The period's analyses"}},
)
def export_csv(window: PeriodDep, db: StreamingSessionDep) -> StreamingResponse:
    """The period's analyses as CSV, streamed (one row per ticket, feedback included)."""
    filename = f"analyses-{window.start:%Y%m%d}-{window.end:%Y%m%d}.csv"
    return StreamingResponse(
        analytics_service.export_csv(db, window),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
