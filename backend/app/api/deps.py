"""Shared router dependencies and OpenAPI response declarations (among them the reporting
period of the analytics endpoints: query parameters, resolution, errors; and the ticket
list's query parameters)."""

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.analytics import reports
from app.analytics.reports import Window
from app.auth import CurrentUser, ReadingUser
from app.config import Settings
from app.core.rate_limit import ProcessingLimiter
from app.core.time_zones import user_time_zones
from app.database import SessionDep
from app.schemas import ErrorResponse, IsoDateTime
from app.schemas.ticket_list import TicketListQuery
from app.unit_of_work import UnitOfWork, request_sender


def model_response(model: BaseModel) -> Response:
    """`model` as the JSON response, the same bytes FastAPI writes for a returned model
    (Pydantic's serializer, by alias). For hot read routes: FastAPI would validate the
    returned model again first, in a worker thread for a sync route (one more hop)."""
    return Response(model.model_dump_json(by_alias=True), media_type="application/json")


def get_unit_of_work(db: SessionDep, request: Request) -> UnitOfWork:
    """The request's session as short transactions (for work that calls an upstream)."""
    return UnitOfWork(db, request_sender(request))


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]


def get_app_settings(request: Request) -> Settings:
    """The settings the application was created with (`create_app(settings)`)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing, invalid or expired token"}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Not found"}
}


def processing_slot(user: CurrentUser, request: Request) -> Iterator[None]:
    """Hold one of the user's slots while the route runs; 429 (or 503) at once if none."""
    limiter: ProcessingLimiter = request.app.state.processing_limiter
    with limiter.slot(user.id):
        yield


# Released when the route returns, before the response is sent.
PROCESSING_SLOT = Depends(processing_slot, scope="function")
BUSY: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorResponse,
        "description": "Too many of your calls of this kind in progress; see Retry-After",
    },
    503: {
        "model": ErrorResponse,
        "description": (
            "Too many calls of this kind in progress on this server, or the database is"
            " unavailable; see Retry-After"
        ),
    },
}

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
    user: ReadingUser,
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


async def ticket_list_query(request: Request) -> TicketListQuery:  # async: no worker thread
    """The list's query parameters validated by the model in one call.

    FastAPI's own extraction of a query model inspects every field's annotation again on
    each request, about a fifth of a list request's CPU. The route documents the same
    parameters (`TICKET_LIST_PARAMETERS`) and a bad value is the same 422 (`loc` starts
    with "query"). As FastAPI does, a repeated parameter counts once, with its last value.
    """
    try:
        return TicketListQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


def _documented_parameters() -> list[dict[str, Any]]:
    """The OpenAPI parameters FastAPI writes for `TicketListQuery` as a query model."""
    documenting = FastAPI()

    @documenting.get("/")
    def _list(query: Annotated[TicketListQuery, Query()]) -> None: ...

    parameters: list[dict[str, Any]] = documenting.openapi()["paths"]["/"]["get"]["parameters"]
    return parameters


TICKET_LIST_PARAMETERS = _documented_parameters()
