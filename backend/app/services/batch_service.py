"""Batch jobs of up to 100 tickets: bulk fetch, concurrent analysis, bulk write-back.

A job is resumable at every step. Items move pending → analyzed → writing → done (or
failed), each transition committed, so a worker killed mid-batch leaves a state the next
worker continues from without repeating analyses, tags or notes.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app import observability
from app.accounts import integrations
from app.accounts.integrations import ResolvedIntegration
from app.analysis import cascade
from app.config import get_settings
from app.database import session_scope
from app.errors import NotFound, ServiceUnavailable
from app.integrations.zendesk import (
    ZendeskAuthError,
    ZendeskClient,
    ZendeskError,
    ZendeskJobFailed,
    ZendeskJobTimeout,
    ZendeskNotFound,
)
from app.models import BatchJob, BatchJobItem, Ticket, TicketAnalysis, utcnow
from app.services import analysis_service, ticket_store, writeback
from app.services.analysis_service import AnalysisOutcome
from app.services.ticket_processor import (
    StepLog,
    llm_analyzer,
    log_analysis,
    save_step_logs,
    zendesk_client,
)

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 100
STALL_AFTER = timedelta(minutes=30)
FINAL_JOB_STATES = {"succeeded", "partially_failed", "failed"}
OPEN_ITEM_STATES = ("pending", "analyzed", "writing")


def _lease() -> timedelta:
    return timedelta(seconds=get_settings().batch_lease_s)


class LeaseHeld(Exception):
    """Another live worker is running this job; try again later."""

    def __init__(self, retry_in_s: float) -> None:
        super().__init__(f"job is leased for another {retry_in_s:.0f} s")
        self.retry_in_s = retry_in_s


class TransientUpstreamError(Exception):
    """Zendesk failed in a way worth retrying the whole job later."""


@dataclass(frozen=True)
class JobContext:
    job_id: str
    user_id: int
    worker_id: str
    integration: ResolvedIntegration


# --- submission --------------------------------------------------------------------------


def create_job(
    *, db: Session, user_id: int, zendesk_ticket_ids: list[int], origin: str = "api"
) -> BatchJob:
    if not 1 <= len(zendesk_ticket_ids) <= MAX_BATCH_SIZE:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH_SIZE} tickets")
    job = BatchJob(
        id=str(uuid.uuid4()),
        user_id=user_id,
        state="queued",
        total=len(zendesk_ticket_ids),
        origin=origin,
    )
    db.add(job)
    db.flush()
    db.add_all(
        BatchJobItem(job_id=job.id, zendesk_ticket_id=ticket_id, position=position)
        for position, ticket_id in enumerate(zendesk_ticket_ids)
    )
    db.flush()
    return job


def submit(
    *,
    db: Session,
    user_id: int,
    zendesk_ticket_ids: list[int],
    dispatch: Callable[[str], None],
    origin: str = "api",
) -> BatchJob:
    """Create and commit the job, then hand its id to the queue (never before the commit)."""
    integrations.resolve(db=db, user_id=user_id)  # fail fast (400) when nothing is configured
    job = create_job(db=db, user_id=user_id, zendesk_ticket_ids=zendesk_ticket_ids, origin=origin)
    db.commit()
    try:
        dispatch(job.id)
    except Exception as exc:
        logger.exception("could not queue batch job %s", job.id)
        db.rollback()
        fail_job(job.id, "the job queue could not be reached")
        raise ServiceUnavailable("The job queue is unavailable; try again shortly") from exc
    return job


def stalled_jobs(*, db: Session, limit: int = 500) -> list[str]:
    """Jobs whose task is gone (a message lost with the broker's data, a task that gave up
    without recording it): queued for longer than any queue wait, or running with a lease
    that expired long ago. Each is marked as handed again, so it comes back at most once per
    STALL_AFTER; a job handed twice is harmless (the second run finds it finished or leased)."""
    now = utcnow()
    query = (
        select(BatchJob)
        .where(
            BatchJob.dispatched_at < now - STALL_AFTER,
            or_(
                BatchJob.state == "queued",
                and_(
                    BatchJob.state == "running",
                    BatchJob.lease_expires_at < now - STALL_AFTER,
                ),
            ),
        )
        .order_by(BatchJob.dispatched_at)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    jobs = list(db.scalars(query))
    for job in jobs:
        job.dispatched_at = now
    return [job.id for job in jobs]


def get_job(*, db: Session, user_id: int, job_id: str) -> BatchJob:
    job = db.get(BatchJob, job_id)
    if job is None or job.user_id != user_id:
        raise NotFound(f"Job {job_id} not found")
    return job


def job_items(*, db: Session, job_id: str) -> list[tuple[BatchJobItem, TicketAnalysis | None]]:
    """The job's items in submitted order, each with its ticket's analysis once there is one."""
    rows = db.execute(
        select(BatchJobItem, TicketAnalysis)
        .outerjoin(TicketAnalysis, TicketAnalysis.ticket_id == BatchJobItem.ticket_id)
        .where(BatchJobItem.job_id == job_id)
        .order_by(BatchJobItem.position)
    ).all()
    return [(item, analysis) for item, analysis in rows]


def recent_jobs(*, db: Session, user_id: int, limit: int = 20) -> list[BatchJob]:
    return list(
        db.scalars(
            select(BatchJob)
            .where(BatchJob.user_id == user_id)
            .order_by(BatchJob.created_at.desc())
            .limit(limit)
        )
    )


# --- execution -----------------------------------------------------------------------------


def _holder_is_gone(holder: str, worker_id: str) -> bool:
    """A lease holder on our own node ("node/pid") whose process has died: a pool process
    killed mid-job, whose task was redelivered to a sibling. Others keep their lease."""
    holder_node, _, holder_pid = holder.rpartition("/")
    if holder_node != worker_id.rpartition("/")[0] or not holder_pid.isdigit():
        return False
    try:
        os.kill(int(holder_pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # alive, or dead but not yet reaped by the pool (a zombie)
        with open(f"/proc/{holder_pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except OSError:
        return False


def _claim(job_id: str, worker_id: str) -> JobContext | None:
    """Take the job's lease; None when the job is finished or gone."""
    with session_scope() as db:
        query = select(BatchJob).where(BatchJob.id == job_id)
        if db.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        job = db.scalar(query)
        if job is None or job.state in FINAL_JOB_STATES:
            return None
        now = utcnow()
        if (
            job.lease_owner not in (None, worker_id)
            and job.lease_expires_at is not None
            and job.lease_expires_at > now
            and not _holder_is_gone(job.lease_owner, worker_id)
        ):
            raise LeaseHeld((job.lease_expires_at - now).total_seconds())
        job.lease_owner = worker_id
        job.lease_expires_at = now + _lease()
        job.attempts += 1
        job.state = "running"
        job.started_at = job.started_at or now
        integration = integrations.resolve(db=db, user_id=job.user_id)
        return JobContext(
            job_id=job.id, user_id=job.user_id, worker_id=worker_id, integration=integration
        )


def _renew(db: Session, ctx: JobContext) -> None:
    job = db.get(BatchJob, ctx.job_id)
    assert job is not None
    job.lease_expires_at = utcnow() + _lease()
    _refresh_counts(db, job)


def _refresh_counts(db: Session, job: BatchJob) -> None:
    rows = db.execute(
        select(BatchJobItem.status, func.count())
        .where(BatchJobItem.job_id == job.id)
        .group_by(BatchJobItem.status)
    ).all()
    counts = {status: int(count) for status, count in rows}
    job.failed = counts.get("failed", 0)
    job.done = counts.get("done", 0) + counts.get("analyzed", 0) + counts.get("writing", 0)


def _open_items(db: Session, job_id: str) -> list[BatchJobItem]:
    return list(
        db.scalars(
            select(BatchJobItem)
            .where(BatchJobItem.job_id == job_id, BatchJobItem.status.in_(OPEN_ITEM_STATES))
            .order_by(BatchJobItem.position)
        )
    )


def _by_id(db: Session, model: type[Any], ids: list[int]) -> dict[int, Any]:
    """Rows of `model` by primary key, loaded with one query."""
    return {row.id: row for row in db.scalars(select(model).where(model.id.in_(ids)))}


def _fail_item(item: BatchJobItem, error: str) -> None:
    item.status = "failed"
    item.error = error[:2000]
    item.finished_at = utcnow()


def _fetch_and_store(ctx: JobContext, client: ZendeskClient) -> dict[int, dict[str, Any]]:
    """show_many for every open item; store tickets; fail the ones Zendesk lacks."""
    with session_scope() as db:
        ids = [item.zendesk_ticket_id for item in _open_items(db, ctx.job_id)]
    if not ids:
        return {}
    started = time.perf_counter()
    try:
        raws = client.get_tickets(ids)
    except ZendeskAuthError:
        raise
    except ZendeskError as exc:
        raise TransientUpstreamError(exc.message) from exc
    fetch_ms = int((time.perf_counter() - started) * 1000)
    with session_scope() as db:
        items = _open_items(db, ctx.job_id)
        store_started = time.perf_counter()
        tickets = ticket_store.upsert_tickets(
            db=db,
            user_id=ctx.user_id,
            raws=[raws[item.zendesk_ticket_id] for item in items if item.zendesk_ticket_id in raws],
        )
        store_ms = int((time.perf_counter() - store_started) * 1000)
        logs: list[tuple[StepLog, int | None]] = []
        for item in items:
            ticket = tickets.get(item.zendesk_ticket_id)
            steps = StepLog(ctx.user_id, item.zendesk_ticket_id, ctx.job_id)
            if ticket is None:
                steps.add("fetch", "error", fetch_ms, "RecordNotFound: not found in Zendesk")
                _fail_item(item, f"Ticket {item.zendesk_ticket_id} was not found in Zendesk")
            else:
                steps.add("fetch", "ok", fetch_ms, "show_many")
                steps.add("store", "ok", store_ms)
                item.ticket_id = ticket.id
            logs.append((steps, ticket.id if ticket is not None else None))
        save_step_logs(db, logs)
        _renew(db, ctx)
    return raws


def _analyse_pending(ctx: JobContext, *, commit_every_s: float = 0.25) -> None:
    """Analyse pending items concurrently; results are saved from this thread as they land."""
    with session_scope() as db:
        pending = [
            (item.id, ticket.id, ticket.subject, ticket.description)
            for item, ticket in db.execute(
                select(BatchJobItem, Ticket)
                .join(Ticket, Ticket.id == BatchJobItem.ticket_id)
                .where(BatchJobItem.job_id == ctx.job_id, BatchJobItem.status == "pending")
            ).all()
        ]
    if not pending:
        return
    llm = llm_analyzer(ctx.integration)
    options = ctx.integration.options
    cascade.context_for(ctx.user_id)  # load the user's model once, not in every thread
    workers = min(get_settings().batch_concurrency, len(pending))
    finished: list[tuple[int, int, AnalysisOutcome | Exception]] = []
    last_commit = time.monotonic()

    def analyse(subject: str, body: str) -> AnalysisOutcome:
        return analysis_service.analyze(
            subject, body, options=options, llm=llm, user_id=ctx.user_id
        )

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analyse") as pool:
        futures = {
            pool.submit(analyse, subject, body): (item_id, ticket_id)
            for item_id, ticket_id, subject, body in pending
        }
        for future in as_completed(futures):
            item_id, ticket_id = futures[future]
            try:
                finished.append((item_id, ticket_id, future.result()))
            except Exception as exc:  # one bad ticket fails alone
                logger.exception("analysis failed for batch item %s", item_id)
                finished.append((item_id, ticket_id, exc))
            if time.monotonic() - last_commit >= commit_every_s:
                _save_outcomes(ctx, finished)
                finished, last_commit = [], time.monotonic()
    _save_outcomes(ctx, finished)


def _save_outcomes(
    ctx: JobContext, finished: list[tuple[int, int, AnalysisOutcome | Exception]]
) -> None:
    if not finished:
        return
    with session_scope() as db:
        items = _by_id(db, BatchJobItem, [item_id for item_id, _, _ in finished])
        tickets = _by_id(db, Ticket, [ticket_id for _, ticket_id, _ in finished])
        saved: list[tuple[Ticket, AnalysisOutcome, int]] = []
        logs: list[tuple[StepLog, int | None]] = []
        for item_id, ticket_id, outcome in finished:
            item, ticket = items[item_id], tickets[ticket_id]
            steps = StepLog(ctx.user_id, item.zendesk_ticket_id, ctx.job_id)
            if isinstance(outcome, Exception):
                steps.add("analyze", "error", 0, f"{type(outcome).__name__}: {outcome}")
                _fail_item(item, f"analysis failed: {type(outcome).__name__}")
            else:
                log_analysis(steps, outcome)
                saved.append((ticket, outcome, outcome.duration_ms))
                steps.add("save", "ok", 0)
                item.status = "analyzed"
            logs.append((steps, ticket.id))
        ticket_store.save_analyses(db=db, results=saved)
        save_step_logs(db, logs)
        _renew(db, ctx)


def _already_posted(client: ZendeskClient, zendesk_ticket_id: int, fingerprint: str) -> bool:
    """After a crash mid-write: is our note already on the ticket?"""
    return writeback.already_posted(client.get_comments(zendesk_ticket_id), fingerprint)


def _record_write(ctx: JobContext, zendesk_job_id: str) -> None:
    with session_scope() as db:
        job = db.get(BatchJob, ctx.job_id)
        assert job is not None
        job.writeback_job_id = zendesk_job_id


def _record_write_seen(db: Session, ctx: JobContext) -> None:
    job = db.get(BatchJob, ctx.job_id)
    assert job is not None
    job.writeback_job_id = None


def _settle_previous_write(ctx: JobContext, client: ZendeskClient) -> bool:
    """A killed attempt's bulk update may still be running in Zendesk: wait for it, so
    that what we read next includes its tags and notes. True when there was one."""
    with session_scope() as db:
        job = db.get(BatchJob, ctx.job_id)
        zendesk_job_id = job.writeback_job_id if job is not None else None
    if zendesk_job_id is None:
        return False
    try:
        client.wait_for_job(zendesk_job_id)
    except ZendeskNotFound:
        pass  # Zendesk keeps job statuses for a while only: long finished
    except (ZendeskJobFailed, ZendeskJobTimeout) as exc:
        logger.warning("previous write-back of job %s: %s", ctx.job_id, exc.message)
    except ZendeskError as exc:
        raise TransientUpstreamError(exc.message) from exc
    with session_scope() as db:
        _record_write_seen(db, ctx)
    return True


def _refetch_writing(ctx: JobContext, client: ZendeskClient) -> dict[int, dict[str, Any]]:
    """The tickets about to be written, as Zendesk has them now."""
    with session_scope() as db:
        ids = list(
            db.scalars(
                select(BatchJobItem.zendesk_ticket_id).where(
                    BatchJobItem.job_id == ctx.job_id,
                    BatchJobItem.status.in_(("analyzed", "writing")),
                )
            )
        )
    try:
        return client.get_tickets(ids) if ids else {}
    except ZendeskError as exc:
        raise TransientUpstreamError(exc.message) from exc


def _notes_in_flight(db: Session, ctx: JobContext, ticket_ids: list[int]) -> set[tuple[int, str]]:
    """(ticket, note fingerprint) that other jobs have sent to Zendesk and not yet seen."""
    if not ticket_ids:
        return set()
    rows = db.execute(
        select(BatchJobItem.ticket_id, BatchJobItem.note_fingerprint).where(
            BatchJobItem.ticket_id.in_(ticket_ids),
            BatchJobItem.status == "writing",
            BatchJobItem.job_id != ctx.job_id,
            BatchJobItem.note_fingerprint.is_not(None),
        )
    ).all()
    return {(ticket_id, fingerprint) for ticket_id, fingerprint in rows}


def _write_back(ctx: JobContext, client: ZendeskClient, raws: dict[int, dict[str, Any]]) -> None:
    """One update_many for every analysed ticket: full tag set guarded by safe_update + note."""
    if _settle_previous_write(ctx, client):
        raws = _refetch_writing(ctx, client)
    options = ctx.integration.options
    entries: list[dict[str, Any]] = []
    planned: dict[int, tuple[int, writeback.WritePlan, list[str], list[str]]] = {}
    with session_scope() as db:
        # The analyses are locked while we plan (one order for every job): a job planning
        # the same tickets waits, then sees our items writing and leaves the note to us.
        rows = db.execute(
            select(BatchJobItem, Ticket, TicketAnalysis)
            .join(Ticket, Ticket.id == BatchJobItem.ticket_id)
            .join(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
            .where(
                BatchJobItem.job_id == ctx.job_id,
                BatchJobItem.status.in_(("analyzed", "writing")),
            )
            .order_by(TicketAnalysis.id)
            .with_for_update(of=TicketAnalysis)
            .execution_options(populate_existing=True)
        ).all()
        posting_elsewhere = _notes_in_flight(db, ctx, [ticket.id for _, ticket, _ in rows])
        logs: list[tuple[StepLog, int | None]] = []
        for item, ticket, analysis in rows:
            raw = raws.get(ticket.zendesk_ticket_id)
            if (raw or {}).get("status", ticket.status) == "closed":
                steps = StepLog(ctx.user_id, ticket.zendesk_ticket_id, ctx.job_id)
                steps.add("write_back", "skipped", 0, "closed tickets cannot be updated")
                logs.append((steps, ticket.id))
                item.status, item.finished_at, item.write_back = "done", utcnow(), "skipped"
                continue
            current = list(raw.get("tags") or []) if raw else list(ticket.tags)
            write_plan = writeback.plan(analysis, options, current_tags=current)
            note = write_plan.note
            if (
                item.status == "writing"
                and note
                and item.note_fingerprint == write_plan.note_fingerprint
                and _already_posted(client, ticket.zendesk_ticket_id, item.note_fingerprint)
            ):
                note = None
            if note and (ticket.id, write_plan.note_fingerprint) in posting_elsewhere:
                note = None  # another job is posting this very note right now
            wanted = (
                writeback.triage_tags(analysis, options.tag_prefix) if options.write_tags else []
            )
            if not write_plan.tags and not write_plan.stale_tags and not note:
                enabled = options.write_tags or options.write_note
                steps = StepLog(ctx.user_id, ticket.zendesk_ticket_id, ctx.job_id)
                steps.add(
                    "write_back",
                    "skipped",
                    0,
                    "nothing new to write" if enabled else "write-back is off in the settings",
                )
                logs.append((steps, ticket.id))
                ticket.tags = current
                _finish_write(
                    item,
                    analysis,
                    wanted,
                    write_plan.note_fingerprint,
                    "unchanged" if enabled else "disabled",
                )
                continue
            entry: dict[str, Any] = {"id": ticket.zendesk_ticket_id}
            new_tags = current
            if write_plan.tags or write_plan.stale_tags:
                tags = [tag for tag in current if tag not in write_plan.stale_tags]
                new_tags = tags + write_plan.tags
                entry.update(
                    tags=new_tags,
                    safe_update=True,
                    updated_stamp=(raw or {}).get("updated_at"),
                )
            if note:
                entry["comment"] = {"body": note, "public": False}
            entries.append(entry)
            item.status = "writing"
            item.note_fingerprint = write_plan.note_fingerprint
            planned[ticket.zendesk_ticket_id] = (item.id, write_plan, wanted, new_tags)
        save_step_logs(db, logs)
        _renew(db, ctx)
    if not entries:
        return
    started = time.perf_counter()
    try:
        job_status = client.update_many(tickets=entries)
        _record_write(ctx, str(job_status["id"]))
        results = client.wait_for_job(str(job_status["id"]))
    except ZendeskError as exc:
        raise TransientUpstreamError(exc.message) from exc
    write_ms = int((time.perf_counter() - started) * 1000)
    outcome = {int(result["id"]): result for result in results if "id" in result}
    retry_single: list[int] = []
    with session_scope() as db:
        items = _by_id(db, BatchJobItem, [item_id for item_id, *_ in planned.values()])
        tickets = _by_id(db, Ticket, [item.ticket_id for item in items.values()])
        analyses = {
            analysis.ticket_id: analysis
            for analysis in db.scalars(
                select(TicketAnalysis).where(
                    TicketAnalysis.ticket_id.in_([item.ticket_id for item in items.values()])
                )
            )
        }
        logs: list[tuple[StepLog, int | None]] = []
        for zendesk_ticket_id, (item_id, write_plan, wanted, new_tags) in planned.items():
            item = items[item_id]
            analysis = analyses[item.ticket_id]
            result = outcome.get(zendesk_ticket_id, {})
            steps = StepLog(ctx.user_id, zendesk_ticket_id, ctx.job_id)
            if result.get("success"):
                tickets[item.ticket_id].tags = new_tags
                _finish_write(item, analysis, wanted, write_plan.note_fingerprint, "written")
                steps.add("write_back", "ok", write_ms, "update_many")
            elif "conflict" in str(result.get("error", "")).lower():
                retry_single.append(zendesk_ticket_id)  # the ticket changed since we read it
            else:
                message = f"{result.get('error', 'unknown')}: {result.get('details', '')}"
                steps.add("write_back", "error", write_ms, message)
                _fail_item(item, f"write-back failed: {message}")
            logs.append((steps, item.ticket_id))
        save_step_logs(db, logs)
        _record_write_seen(db, ctx)
        _renew(db, ctx)
    if retry_single:
        _write_back_one_by_one(ctx, client, retry_single)


def _write_back_one_by_one(ctx: JobContext, client: ZendeskClient, ids: list[int]) -> None:
    """Tickets that changed under us: add tags through the tags endpoint, then the note."""
    from app.services.ticket_processor import apply_write_back

    with session_scope() as db:
        for item, ticket, analysis in db.execute(
            select(BatchJobItem, Ticket, TicketAnalysis)
            .join(Ticket, Ticket.id == BatchJobItem.ticket_id)
            .join(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
            .where(BatchJobItem.job_id == ctx.job_id, Ticket.zendesk_ticket_id.in_(ids))
        ).all():
            try:
                ticket.tags = list(client.get_ticket(ticket.zendesk_ticket_id).get("tags") or [])
            except ZendeskError as exc:
                _fail_item(item, f"write-back failed: {exc.message}")
                continue
            if item.note_fingerprint and analysis.note_fingerprint != item.note_fingerprint:
                # An earlier attempt may have posted this note: look before posting it.
                analysis.note_fingerprint = writeback.pending(item.note_fingerprint)
            steps = StepLog(ctx.user_id, ticket.zendesk_ticket_id, ctx.job_id)
            status, error = apply_write_back(
                client=client,
                ticket=ticket,
                analysis=analysis,
                integration=ctx.integration,
                steps=steps,
            )
            if status == "failed":
                _fail_item(item, f"write-back failed: {error}")
            else:
                item.status, item.finished_at, item.write_back = "done", utcnow(), status
            steps.save(db, ticket.id if ticket is not None else None)
        _renew(db, ctx)


def _finish_write(
    item: BatchJobItem,
    analysis: TicketAnalysis,
    wanted: list[str],
    note_fingerprint: str | None,
    write_back: str,
) -> None:
    if wanted:
        analysis.tags_written = wanted
    if note_fingerprint:
        analysis.note_fingerprint = note_fingerprint
    if write_back != "disabled":
        analysis.written_back_at = utcnow()
    item.status = "done"
    item.finished_at = utcnow()
    item.write_back = write_back


def _finish_job(job_id: str, error: str | None = None) -> None:
    with session_scope() as db:
        job = db.get(BatchJob, job_id)
        assert job is not None
        if error is not None:
            for item in _open_items(db, job_id):
                _fail_item(item, error)
        _refresh_counts(db, job)
        if job.failed == 0:
            job.state = "succeeded"
        elif job.failed == job.total:
            job.state = "failed"
        else:
            job.state = "partially_failed"
        job.error = error
        job.finished_at = utcnow()
        observability.record_job_finished(job.state, job.started_at, job.finished_at)
        job.lease_owner = None
        job.lease_expires_at = None


def run_job(job_id: str, *, worker_id: str) -> None:
    """Run (or resume) a job. Raises LeaseHeld or TransientUpstreamError for a later retry."""
    ctx = _claim(job_id, worker_id)
    if ctx is None:
        return
    client = zendesk_client(ctx.integration.zendesk)
    try:
        raws = _fetch_and_store(ctx, client)
        _analyse_pending(ctx)
        _write_back(ctx, client, raws)
    except ZendeskAuthError as exc:
        _finish_job(job_id, f"Zendesk rejected the credentials: {exc.message}")
        return
    except ZendeskNotFound as exc:
        _finish_job(job_id, f"Zendesk: {exc.message}")
        return
    _finish_job(job_id)


def fail_job(job_id: str, error: str) -> None:
    """Give up on a job after its retries: open items fail with the reason."""
    _finish_job(job_id, error)
