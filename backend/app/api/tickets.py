"""Ticket processing, listing and details. All scoped to the current user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from sqlalchemy.orm import Session

from app.analytics import rollups as metrics_rollup
from app.analytics.reports import to_utc
from app.api.deps import (
    BUSY,
    NOT_FOUND,
    PROCESSING_SLOT,
    TICKET_LIST_PARAMETERS,
    UNAUTHORIZED,
    UnitOfWorkDep,
    model_response,
    ticket_list_query,
)
from app.auth import CurrentUser, ReadingUser
from app.batch import backfills
from app.batch import jobs as batch_jobs
from app.database import SessionDep
from app.errors import NotFound, Unprocessable
from app.models import BatchJob, BatchJobItem, TicketAnalysis
from app.pipeline import single, ticket_list, ticket_rows
from app.pipeline import store as ticket_store
from app.reads import ReaderDep
from app.schemas import (
    MAX_TICKET_ID,
    BatchRequest,
    ErrorResponse,
    JobList,
    JobOut,
    ProcessRequest,
    ProcessResponse,
    TicketDetail,
    TicketPage,
    TicketSummary,
)
from app.schemas.backfills import BackfillOut, BackfillRequest
from app.schemas.ticket_list import TicketListQuery

router = APIRouter(prefix="/tickets", tags=["tickets"], responses=UNAUTHORIZED)

TicketId = Annotated[int, Path(gt=0, le=MAX_TICKET_ID, description="Zendesk ticket id")]
UPSTREAM_ERRORS = {
    400: {"model": ErrorResponse, "description": "Zendesk is not configured"},
    404: {"model": ErrorResponse, "description": "Ticket not found in Zendesk"},
    502: {"model": ErrorResponse, "description": "Zendesk unreachable or failing"},
    503: {
        "model": ErrorResponse,
        "description": (
            "Zendesk rate limited this account (429 after retries; code zendesk_rate_limited),"
            " too many calls of this kind in progress on this server, or the database is"
            " unavailable: wait for Retry-After"
        ),
    },
}


@router.post(
    "/process",
    response_model=ProcessResponse,
    responses={**UPSTREAM_ERRORS, 429: BUSY[429]},
    dependencies=[PROCESSING_SLOT],
)
def process_ticket(body: ProcessRequest, user: CurrentUser, uow: UnitOfWorkDep) -> ProcessResponse:
    """Fetch one Zendesk ticket, analyse it, store the result and write tags and a note back.

    An LLM that fails or rate limits (429 after retries) does not fail the call: the offline
    model answers (`source` = `fallback`, the reason in the processing log). A write-back
    that fails is reported in `write_back_status`; the analysis is kept."""
    result = single.process_ticket(uow=uow, user_id=user.id, zendesk_ticket_id=body.ticket_id)
    return ProcessResponse.model_validate(
        {
            "ticket": result.ticket,
            "analysis": result.analysis,
            "write_back_status": result.write_back_status,
            "write_back_error": result.write_back_error,
        },
        from_attributes=True,
    )


ANALYSED_ITEM_STATES = ("analyzed", "writing", "done")


def job_out(
    job: BatchJob, items: list[tuple[BatchJobItem, TicketAnalysis | None]] | None = None
) -> JobOut:
    return JobOut.model_validate(
        {
            "id": job.id,
            "state": job.state,
            "origin": job.origin,
            "progress": {"done": job.done, "failed": job.failed, "total": job.total},
            "error": job.error,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "items": None
            if items is None
            else [
                {
                    "ticket_id": item.zendesk_ticket_id,
                    "status": item.status,
                    "result": analysis if item.status in ANALYSED_ITEM_STATES else None,
                    "write_back": item.write_back,
                    "error": item.error,
                    "finished_at": item.finished_at,
                }
                for item, analysis in items
            ],
        },
        from_attributes=True,
    )


@router.post(
    "/process-batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses={
        400: {"model": ErrorResponse, "description": "Zendesk is not configured"},
        503: {"model": ErrorResponse, "description": "The job queue is unavailable"},
    },
)
def process_batch(
    body: BatchRequest, user: CurrentUser, db: SessionDep, response: Response
) -> JobOut:
    """Queue 1 to 100 tickets for processing; poll the job at the Location header."""
    job = batch_jobs.submit(db=db, user_id=user.id, zendesk_ticket_ids=body.ticket_ids)
    response.headers["Location"] = f"/tickets/jobs/{job.id}"
    return job_out(job)


def backfill_out(view: backfills.BackfillView) -> BackfillOut:
    backfill = view.backfill
    return BackfillOut.model_validate(
        {
            "id": backfill.id,
            "state": backfill.state,
            "query": backfill.query,
            "max_tickets": backfill.max_tickets,
            "found": backfill.found,
            "job_ids": view.job_ids,
            "progress": {"done": view.done, "failed": view.failed, "total": view.total},
            "error": backfill.error,
            "created_at": backfill.created_at,
            "updated_at": backfill.updated_at,
        }
    )


@router.post(
    "/backfill",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BackfillOut,
    responses={
        400: {"model": ErrorResponse, "description": "Zendesk is not configured"},
        503: {"model": ErrorResponse, "description": "The job queue is unavailable"},
    },
)
def backfill(
    body: BackfillRequest, user: CurrentUser, db: SessionDep, response: Response
) -> BackfillOut:
    """Analyse the Zendesk tickets a search query (or a creation-date range, `end`
    exclusive) finds, in batch jobs of up to 100: a worker runs the search, then queues
    the jobs. Poll the backfill at the Location header for its jobs and overall progress."""
    query = backfills.search_query(query=body.query, start=body.start, end=body.end)
    created = backfills.submit(db=db, user_id=user.id, query=query, max_tickets=body.max_tickets)
    response.headers["Location"] = f"/tickets/backfills/{created.id}"
    return backfill_out(backfills.BackfillView(created, [], 0, 0, 0))


@router.get("/backfills/{backfill_id}", response_model=BackfillOut, responses=NOT_FOUND)
def get_backfill(
    backfill_id: Annotated[str, Path(max_length=36)], user: CurrentUser, db: SessionDep
) -> BackfillOut:
    """A backfill's state, its batch jobs and their progress summed."""
    return backfill_out(backfills.get(db=db, user_id=user.id, backfill_id=backfill_id))


@router.get("/backfill", include_in_schema=False)
@router.get("/process", include_in_schema=False)
@router.get("/process-batch", include_in_schema=False)
def post_only() -> None:
    """These paths take POST only; without this, GET would be read as /tickets/{ticket_id}."""
    raise HTTPException(status.HTTP_405_METHOD_NOT_ALLOWED, headers={"Allow": "POST"})


@router.get("/jobs", response_model=JobList, responses=NOT_FOUND)
async def list_jobs(
    user: ReadingUser,
    reader: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[
        str | None, Query(max_length=36, description="`next_before` of the previous page")
    ] = None,
) -> JobList:
    """The user's batch jobs, newest first, a page at a time."""

    def page(db: Session) -> JobList:
        jobs = batch_jobs.recent_jobs(db=db, user_id=user.id, limit=limit, before=before)
        next_before = jobs[-1].id if len(jobs) == limit else None
        return JobList(items=[job_out(job) for job in jobs], next_before=next_before)

    return await reader.run(page)


@router.get("/jobs/{job_id}", response_model=JobOut, responses=NOT_FOUND)
async def get_job(
    job_id: Annotated[str, Path(max_length=36)], user: ReadingUser, reader: ReaderDep
) -> JobOut:
    """State, progress and the per-ticket result or error of a batch job."""

    def found(db: Session) -> JobOut:
        job = batch_jobs.get_job(db=db, user_id=user.id, job_id=job_id)
        return job_out(job, batch_jobs.job_items(db=db, job_id=job.id))

    return await reader.run(found)


# The parameters are documented from TicketListQuery, and parsed by ticket_list_query.
LIST_DOCS: dict[str, Any] = {
    "openapi_extra": {"parameters": TICKET_LIST_PARAMETERS},
    "responses": {422: {"description": "Validation Error"}},
}


@router.get("/", response_model=TicketPage, **LIST_DOCS)
@router.get("", response_model=TicketPage, include_in_schema=False)  # no 307 for /tickets
async def list_tickets(
    user: ReadingUser,
    reader: ReaderDep,
    query: Annotated[TicketListQuery, Depends(ticket_list_query)],
) -> Response:
    zone = metrics_rollup.user_zone(user)
    start = to_utc(query.start, zone, "start") if query.start is not None else None
    end = to_utc(query.end, zone, "end") if query.end is not None else None
    if start is not None and end is not None and start > end:
        raise Unprocessable("start must not be after end")
    if query.q is not None and "\x00" in query.q:
        raise Unprocessable("q must not contain NUL characters")
    items, total, exact = await reader.run(
        lambda db: ticket_list.list_tickets(
            db=db,
            user_id=user.id,
            page=query.page,
            page_size=query.page_size,
            sort=query.sort,
            category=query.category,
            urgency=query.urgency,
            sentiment=query.sentiment,
            source=query.source,
            status=query.status,
            start=start,
            end=end,
            text=query.q,
        )
    )
    page = TicketPage.model_validate(
        {
            "items": items,
            "total": total,
            "page": query.page,
            "page_size": query.page_size,
            "total_is_exact": exact,
        }
    )
    return model_response(page)


@router.get("/stats/summary", response_model=TicketSummary)
async def stats_summary(user: ReadingUser, reader: ReaderDep) -> Response:
    stats = await reader.run(lambda db: ticket_store.summary_stats(db=db, user_id=user.id))
    return model_response(TicketSummary.model_validate(stats))


@router.get("/{ticket_id}", response_model=TicketDetail, responses=NOT_FOUND)
async def get_ticket(ticket_id: TicketId, user: ReadingUser, reader: ReaderDep) -> Response:
    """A processed ticket with its analysis and processing log."""
    detail = await reader.run(
        lambda db: ticket_rows.ticket_detail(db, user_id=user.id, zendesk_ticket_id=ticket_id)
    )
    if detail is None:
        raise NotFound(f"Ticket {ticket_id} has not been processed")
    return model_response(TicketDetail.model_validate(detail))
