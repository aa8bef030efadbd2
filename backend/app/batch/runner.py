"""Running a batch job: claim, bulk fetch, concurrent analysis, bulk write-back, finish.

The Celery task `triage.process_batch` calls `run_job`, which owns its transactions: each
phase is a short transaction, and Zendesk and the LLM are called with none open. A job is
resumable at every step: item states (pending → analyzed → writing → done) are committed
as they change, so a worker killed mid-batch leaves a state the next one continues from.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.accounts import integrations
from app.analysis import cascade
from app.batch.jobs import (
    FINAL_JOB_STATES,
    JobContext,
    LeaseHeld,
    TransientUpstreamError,
    UserAtCapacity,
    ensure_fair_share,
    fail_item,
    hand_on_share,
    lease,
    open_item_rows,
    open_items,
    refresh_counts,
    renew,
    rows_by_id,
    set_each,
    set_items,
    wait_for_share,
)
from app.batch.writing import write_back
from app.config import get_settings
from app.core import observability
from app.database import session_scope
from app.enums import ItemStatus, JobState
from app.integrations.llm import LLMAnalyzer, LLMRateLimitedError
from app.integrations.zendesk import (
    ZendeskAuthError,
    ZendeskClient,
    ZendeskError,
    ZendeskNotFound,
)
from app.models import BatchJob, BatchJobItem, Ticket, utcnow
from app.pipeline import analysis as analysis_service
from app.pipeline import store as ticket_store
from app.pipeline.analysis import AnalysisOutcome, PlannedAnalysis
from app.pipeline.steps import StepLog, llm_analyzer, log_analysis, save_step_logs, zendesk_client
from app.pipeline.store import StoredTicket, UnstorableTicket

logger = logging.getLogger(__name__)


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


def claim(job_id: str, worker_id: str) -> JobContext | None:
    """Take the job's lease; None when the job is finished or gone. UserAtCapacity when its
    owner runs their share of jobs: the job is left waiting (`wait_for_share`)."""
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
        try:
            ensure_fair_share(db, job)
        except UserAtCapacity as exc:
            wait_for_share(job)
            at_capacity = exc  # raised once the mark is committed
        else:
            job.lease_owner = worker_id
            job.lease_expires_at = now + lease()
            job.attempts += 1
            job.state = JobState.running
            job.started_at = job.started_at or now
            integration = integrations.resolve(db=db, user_id=job.user_id)
            return JobContext(
                job_id=job.id, user_id=job.user_id, worker_id=worker_id, integration=integration
            )
    raise at_capacity


def _fetch_and_store(ctx: JobContext, client: ZendeskClient) -> dict[int, dict[str, Any]]:
    """show_many for every open item; store tickets; fail the ones Zendesk lacks."""
    with session_scope() as db:
        ids = [zendesk_ticket_id for _, zendesk_ticket_id in open_item_rows(db, ctx.job_id)]
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
        items = open_item_rows(db, ctx.job_id)  # ids only: most items just get a ticket id
        store_started = time.perf_counter()
        ticket_ids, unstorable = _store_tickets(
            db, ctx.user_id, [raws[zendesk_id] for _, zendesk_id in items if zendesk_id in raws]
        )
        store_ms = int((time.perf_counter() - store_started) * 1000)
        logs: list[tuple[StepLog, int | None]] = []
        linked: dict[int, dict[str, Any]] = {}
        failed: dict[int, str] = {}
        for item_id, zendesk_ticket_id in items:
            ticket_id = ticket_ids.get(zendesk_ticket_id)
            steps = StepLog(ctx.user_id, zendesk_ticket_id, ctx.job_id)
            if zendesk_ticket_id in unstorable:
                steps.add("fetch", "ok", fetch_ms, "show_many")
                steps.add("store", "error", store_ms, unstorable[zendesk_ticket_id])
                failed[item_id] = unstorable[zendesk_ticket_id]
            elif ticket_id is None:
                steps.add("fetch", "error", fetch_ms, "RecordNotFound: not found in Zendesk")
                failed[item_id] = f"Ticket {zendesk_ticket_id} was not found in Zendesk"
            else:
                steps.add("fetch", "ok", fetch_ms, "show_many")
                steps.add("store", "ok", store_ms)
                linked[item_id] = {"ticket_id": ticket_id}
            logs.append((steps, ticket_id))
        set_each(db, linked)
        if failed:
            for item in rows_by_id(db, BatchJobItem, list(failed)).values():
                fail_item(item, failed[item.id])
        save_step_logs(db, logs)
        renew(db, ctx)
    return raws


def _store_tickets(
    db: Session, user_id: int, raws: list[dict[str, Any]]
) -> tuple[dict[int, int], dict[int, str]]:
    """Store what can be stored (ticket ids by Zendesk id); for each ticket that cannot, why
    (it fails alone)."""
    unstorable: dict[int, str] = {}
    storable: list[dict[str, Any]] = []
    for raw in raws:
        try:
            ticket_store.ticket_fields(raw)
        except UnstorableTicket as exc:
            unstorable[int(raw["id"])] = exc.message
            continue
        storable.append(raw)
    try:
        with db.begin_nested():
            ticket_ids = ticket_store.upsert_tickets(db=db, user_id=user_id, raws=storable)
        return ticket_ids, unstorable
    except DBAPIError:
        logger.warning("a ticket of the batch was refused by the database: storing one by one")
    ticket_ids = {}
    for raw in storable:
        zendesk_ticket_id = int(raw["id"])
        try:
            with db.begin_nested():
                ticket = ticket_store.upsert_ticket(db=db, user_id=user_id, raw=raw)
                ticket_ids[zendesk_ticket_id] = ticket.id
        except DBAPIError as exc:
            unstorable[zendesk_ticket_id] = (
                f"Ticket {zendesk_ticket_id} cannot be stored: {type(exc.orig).__name__}"
            )
    return ticket_ids, unstorable


_analysis_pool: ThreadPoolExecutor | None = None
_analysis_pool_lock = threading.Lock()


def _forget_analysis_pool() -> None:
    """A forked child has none of its parent's threads: it starts a pool of its own."""
    global _analysis_pool, _analysis_pool_lock
    _analysis_pool, _analysis_pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_analysis_pool)


def analysis_pool() -> ThreadPoolExecutor:
    """The process's analysis threads (BATCH_CONCURRENCY), kept between jobs: starting 50
    threads for every batch cost more CPU than the work handed to them."""
    global _analysis_pool
    if _analysis_pool is None:
        with _analysis_pool_lock:
            if _analysis_pool is None:
                _analysis_pool = ThreadPoolExecutor(
                    max_workers=get_settings().batch_concurrency, thread_name_prefix="analyse"
                )
    return _analysis_pool


def _analyse_pending(ctx: JobContext, *, commit_every_s: float = 0.5) -> None:
    """Analyse pending items; results are saved from this thread, a transaction for those
    that land within `commit_every_s` of the first unsaved one (each save costs several
    round trips and a rollup update whatever its size: a save per quarter second from the
    job's start made six or seven small ones of a batch of 100, the first of one ticket).

    This thread plans every ticket (its CPU work: PII redaction, the request, the offline
    model where the mode needs it) and reserves the LLM calls' slots in one round trip to
    the shared limiter; the pool's threads only send, wait and parse. A hundred threads
    redacting at once spent a third more CPU on the same work (GIL hand-offs), and a
    round trip each to the limiter."""
    with session_scope() as db:
        pending = db.execute(
            select(
                BatchJobItem.id,
                BatchJobItem.zendesk_ticket_id,
                Ticket.id,
                Ticket.subject,
                Ticket.description,
            )
            .join(Ticket, Ticket.id == BatchJobItem.ticket_id)
            .where(BatchJobItem.job_id == ctx.job_id, BatchJobItem.status == ItemStatus.pending)
        ).all()
    if not pending:
        return
    llm = llm_analyzer(ctx.integration)
    options = ctx.integration.options
    context = cascade.context_for(ctx.user_id)  # the user's model, loaded once

    zendesk_ids = {item_id: zendesk_ticket_id for item_id, zendesk_ticket_id, *_ in pending}
    finished: list[tuple[int, int, AnalysisOutcome | Exception]] = []
    to_send: list[tuple[int, int, PlannedAnalysis]] = []
    for item_id, _, ticket_id, subject, body in pending:
        try:
            planned = analysis_service.plan(
                subject, body, options=options, llm=llm, context=context
            )
        except Exception as exc:  # one bad ticket fails alone
            logger.exception("analysis failed for batch item %s", item_id)
            finished.append((item_id, ticket_id, exc))
            continue
        if planned.request is None:
            outcome = analysis_service.complete(planned, options=options, llm=llm, context=context)
            finished.append((item_id, ticket_id, outcome))
        else:
            to_send.append((item_id, ticket_id, planned))
    slots = _reserve_slots(llm, [planned for _, _, planned in to_send])

    def send(planned: PlannedAnalysis, slot: float | LLMRateLimitedError | None) -> AnalysisOutcome:
        return analysis_service.complete(
            planned, options=options, llm=llm, context=context, slot=slot
        )

    pool = analysis_pool()
    futures = {
        pool.submit(send, planned, slot): (item_id, ticket_id)
        for (item_id, ticket_id, planned), slot in zip(to_send, slots, strict=True)
    }
    remaining: set[Future[AnalysisOutcome]] = set(futures)
    try:
        while remaining or finished:
            if remaining:
                # Woken once a window rather than once a result: each wake-up of this thread
                # cost more CPU than the bookkeeping of the result that caused it.
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                if remaining:
                    more, remaining = wait(remaining, timeout=commit_every_s)
                    done |= more
            else:
                done = set()
            for future in done:
                item_id, ticket_id = futures[future]
                try:
                    finished.append((item_id, ticket_id, future.result()))
                except Exception as exc:  # one bad ticket fails alone
                    logger.exception("analysis failed for batch item %s", item_id)
                    finished.append((item_id, ticket_id, exc))
            _save_outcomes(ctx, finished, zendesk_ids)
            finished = []
    finally:
        for future in futures:  # a save failed: the job's queued analyses are not run
            future.cancel()


def _reserve_slots(
    llm: LLMAnalyzer | None, planned: list[PlannedAnalysis]
) -> list[float | LLMRateLimitedError | None]:
    """The reserved slot of each planned LLM call; None (each call then asks the limiter
    itself) when the reservation failed."""
    requests = [item.request for item in planned if item.request is not None]
    if llm is None or not requests:
        return [None] * len(planned)
    try:
        return list(llm.reserve(requests))
    except Exception:
        logger.exception("rate limits: reserving the batch's calls failed; one by one")
        return [None] * len(planned)


def _save_outcomes(
    ctx: JobContext,
    finished: list[tuple[int, int, AnalysisOutcome | Exception]],
    zendesk_ids: dict[int, int],
) -> None:
    """Save a window's outcomes; `zendesk_ids` (by item id, read with the pending items) and
    the job's user are all the logs and analyses need of the items and tickets, so neither
    is read again."""
    if not finished:
        return
    with session_scope() as db:
        saved: list[tuple[StoredTicket, AnalysisOutcome, int]] = []
        analyzed: list[int] = []
        failed: dict[int, str] = {}
        logs: list[tuple[StepLog, int | None]] = []
        for item_id, ticket_id, outcome in finished:
            ticket = StoredTicket(id=ticket_id, user_id=ctx.user_id)
            steps = StepLog(ctx.user_id, zendesk_ids[item_id], ctx.job_id)
            if isinstance(outcome, Exception):
                steps.add("analyze", "error", 0, f"{type(outcome).__name__}: {outcome}")
                failed[item_id] = f"analysis failed: {type(outcome).__name__}"
            else:
                log_analysis(steps, outcome)
                saved.append((ticket, outcome, outcome.duration_ms))
                steps.add("save", "ok", 0)
                analyzed.append(item_id)
            logs.append((steps, ticket.id))
        ticket_store.save_analyses(db=db, results=saved)
        save_step_logs(db, logs)
        # One UPDATE for the analysed items rather than an ORM flush of each.
        set_items(db, analyzed, status=ItemStatus.analyzed)
        if failed:
            for item in rows_by_id(db, BatchJobItem, list(failed)).values():
                fail_item(item, failed[item.id])
        renew(db, ctx)


def _finish_job(job_id: str, error: str | None = None) -> None:
    with session_scope() as db:
        job = db.get(BatchJob, job_id)
        assert job is not None
        if error is not None:
            for item in open_items(db, job_id):
                fail_item(item, error)
        refresh_counts(db, job)
        if job.failed == 0:
            job.state = JobState.succeeded
        elif job.failed == job.total:
            job.state = JobState.failed
        else:
            job.state = JobState.partially_failed
        job.error = error
        job.finished_at = utcnow()
        observability.record_job_finished(job.state, job.started_at, job.finished_at)
        job.lease_owner = None
        job.lease_expires_at = None
        hand_on_share(db, job.user_id)  # its share is free: the user's next job takes it


def run_job(job_id: str, *, worker_id: str) -> None:
    """Run (or resume) a job. Raises LeaseHeld or TransientUpstreamError for a later retry."""
    ctx = claim(job_id, worker_id)
    if ctx is None:
        return
    client = zendesk_client(ctx.integration.zendesk)
    try:
        raws = _fetch_and_store(ctx, client)
        _analyse_pending(ctx)
        write_back(ctx, client, raws)
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
