"""Analytics over the current user's analyses: dashboard, trends, distributions, CSV export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from app.analytics import export, reports
from app.analytics.report_cache import ReportCache
from app.api.deps import BAD_PERIOD, UNAUTHORIZED, PeriodDep, model_response
from app.database import get_db
from app.reads import ReaderDep
from app.schemas.analytics import Dashboard, DistributionReport, Trends

router = APIRouter(
    prefix="/analytics",
    tags=["analytics"],
    responses={**UNAUTHORIZED, **BAD_PERIOD},
)

# Kept open until the streamed response has been sent (a reader closes on return).
# A transaction: the rows come from a server-side cursor, which PostgreSQL keeps in one.
StreamingSessionDep = Annotated[Session, Depends(get_db, scope="request")]


@router.get("/dashboard", response_model=Dashboard)
async def dashboard(window: PeriodDep, reader: ReaderDep, request: Request) -> Response:
    """Volumes, cost, label distributions, a daily trend, accuracy and the latest tickets
    (the same request within a few seconds is answered from memory)."""
    cache: ReportCache = request.app.state.report_cache
    key = ("dashboard", window.zone.key, request.url.query)
    cached = cache.get(window.user_id, key)
    if cached is not None:
        return model_response(cached)
    report = await reader.run(lambda db: build_dashboard(db, window))
    cache.put(window.user_id, key, report)
    return model_response(report)


def build_dashboard(db: Session, window: reports.Window) -> Dashboard:
    return Dashboard.model_validate(reports.dashboard(db, window), from_attributes=True)


@router.get("/trends", response_model=Trends)
async def trends(
    window: PeriodDep, reader: ReaderDep, interval: Literal["day", "week"] = "day"
) -> Trends:
    """Tickets, cost and average processing time per local day or ISO week."""
    points = await reader.run(lambda db: reports.trend(db, window, interval))
    return Trends.model_validate(
        {"period": window.period(), "interval": interval, "points": points}
    )


@router.get("/categories", response_model=DistributionReport)
async def categories(window: PeriodDep, reader: ReaderDep) -> DistributionReport:
    """How many analyses of the period fell into each category."""
    report = await reader.run(lambda db: reports.distribution_report(db, window, "category"))
    return DistributionReport.model_validate(report)


@router.get("/sentiments", response_model=DistributionReport)
async def sentiments(window: PeriodDep, reader: ReaderDep) -> DistributionReport:
    """How many analyses of the period had each sentiment."""
    report = await reader.run(lambda db: reports.distribution_report(db, window, "sentiment"))
    return DistributionReport.model_validate(report)


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The period's analyses"}},
)
def export_csv(window: PeriodDep, db: StreamingSessionDep) -> StreamingResponse:
    """The period's analyses as CSV, streamed (one row per ticket, feedback included)."""
    filename = f"analyses-{window.start:%Y%m%d}-{window.end:%Y%m%d}.csv"
    return StreamingResponse(
        export.export_csv(db, window),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
