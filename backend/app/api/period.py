"""The reporting period of the analytics endpoints: query parameters, resolution, errors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from app.analytics import reports
from app.analytics.reports import Window
from app.auth import CurrentUser
from app.core.time_zones import user_time_zones
from app.schemas import ErrorResponse, IsoDateTime

BAD_PERIOD: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorResponse,
        "description": (
            "start after end, a period over 366 days, a date outside years 2 to 9998,"
            " or an unknown time zone"
        ),
    }
}


async def period(  # async: pure computation, no worker thread
    user: CurrentUser,
    start: Annotated[
        IsoDateTime | None,
        Query(description="Inclusive; default end - 30 days. Without an offset: local time"),
    ] = None,
    end: Annotated[IsoDateTime | None, Query(description="Exclusive; default now")] = None,
    tz: Annotated[
        str | None,
        Query(
            max_length=64,
            description="IANA time zone for days; default your saved one",
            json_schema_extra={"enum": sorted(user_time_zones())},
        ),
    ] = None,
) -> Window:
    return reports.resolve_window(user=user, start=start, end=end, tz=tz)


PeriodDep = Annotated[Window, Depends(period)]
