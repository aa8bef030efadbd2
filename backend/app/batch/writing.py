"""A batch job's write-back: plan under the analyses' locks, send with no transaction open.

1. Plan (one short transaction): the analyses are locked in id order while each ticket's
   `TicketWrite` is decided, its item marked `writing` with the note's fingerprint, and the
   transaction committed — other jobs now see the note in flight and leave it to us.
2. I/O: notes an earlier attempt may have posted are looked up, then one update_many
   (full tag set guarded by safe_update, plus the note) and its job status.
3. Record (one short transaction): each item done or failed; tickets that changed under
   us (a safe_update conflict) go one by one through the tags endpoint, in the same phases.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer

from app.batch.jobs import (
    JobContext,
    TransientUpstreamError,
    fail_item,
    renew,
    rows_by_id,
    set_each,
    set_items,
)
from app.database import session_scope
from app.enums import ItemStatus, WriteBack
from app.integrations.zendesk import (
    ZendeskClient,
    ZendeskError,
    ZendeskJobFailed,
    ZendeskJobTimeout,
    ZendeskNotFound,
)
from app.models import BatchJob, BatchJobItem, Ticket, TicketAnalysis, utcnow
from app.pipeline import writeback
from app.pipeline.steps import StepLog, save_step_logs
from app.pipeline.writeback import Applied, TicketWrite

logger = logging.getLogger(__name__)

WRITABLE = (ItemStatus.analyzed, ItemStatus.writing)


def _set_writeback_job(db: Session, ctx: JobContext, zendesk_job_id: str | None) -> None:
    """One UPDATE, without loading the job first."""
    db.execute(
        update(BatchJob)
        .where(BatchJob.id == ctx.job_id)
        .values(writeback_job_id=zendesk_job_id)
        .execution_options(synchronize_session=False)
    )


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
        _set_writeback_job(db, ctx, None)
    return True


def _refetch_writing(ctx: JobContext, client: ZendeskClient) -> dict[int, dict[str, Any]]:
    """The tickets about to be written, as Zendesk has them now."""
    with session_scope() as db:
        ids = list(
            db.scalars(
                select(BatchJobItem.zendesk_ticket_id).where(
                    BatchJobItem.job_id == ctx.job_id, BatchJobItem.status.in_(WRITABLE)
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
            BatchJobItem.status == ItemStatus.writing,
            BatchJobItem.job_id != ctx.job_id,
            BatchJobItem.note_fingerprint.is_not(None),
        )
    ).all()
    return {(ticket_id, fingerprint) for ticket_id, fingerprint in rows}


def _finish_item(item: BatchJobItem, result: WriteBack) -> None:
    item.status = ItemStatus.done
    item.finished_at = utcnow()
    item.write_back = result


def _log(ctx: JobContext, write: TicketWrite, applied: Applied, how: str = "") -> StepLog:
    steps = StepLog(ctx.user_id, write.zendesk_ticket_id, ctx.job_id)
    message = f"{how}{applied.message}" if how and applied.message else how or applied.message
    status = writeback.step_status(applied.status)
    steps.add("write_back", status, applied.duration_ms, message or None)
    return steps


def _plan(
    ctx: JobContext, raws: dict[int, dict[str, Any]]
) -> tuple[dict[int, tuple[int, TicketWrite]], dict[int, str | None]]:
    """Phase 1: decide every writable item; commit them `writing` (or done when nothing
    needs sending). Returns {zendesk id: (item id, write)} and each ticket's updated_at."""
    options = ctx.integration.options
    planned: dict[int, tuple[int, TicketWrite]] = {}
    stamps: dict[int, str | None] = {}
    with session_scope() as db:
        # The analyses are locked while we plan (one order for every job): a job planning
        # the same tickets waits, then sees our items writing and leaves the note to us.
        rows = db.execute(
            select(BatchJobItem, Ticket, TicketAnalysis)
            .join(Ticket, Ticket.id == BatchJobItem.ticket_id)
            .join(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
            .where(BatchJobItem.job_id == ctx.job_id, BatchJobItem.status.in_(WRITABLE))
            .order_by(TicketAnalysis.id)
            .with_for_update(of=TicketAnalysis)
            .options(defer(Ticket.description))  # 10 KB each, and planning never reads it
            .execution_options(populate_existing=True)
        ).all()
        posting_elsewhere = _notes_in_flight(db, ctx, [ticket.id for _, ticket, _ in rows])
        logs: list[tuple[StepLog, int | None]] = []
        writing: dict[int, dict[str, Any]] = {}  # item id: its state and note's fingerprint
        for item, ticket, analysis in rows:
            raw = raws.get(ticket.zendesk_ticket_id)
            write = writeback.plan_ticket(
                ticket,
                analysis,
                options,
                current_tags=list(raw.get("tags") or []) if raw else None,
                zendesk_status=(raw or {}).get("status"),
                # an item not yet writing has claimed nothing: a live claim is someone else's
                leave_live_claims=item.status != ItemStatus.writing,
            )
            fingerprint = write.plan.note_fingerprint
            if write.plan.note and (ticket.id, fingerprint) in posting_elsewhere:
                # another job is posting this very note right now: tags only
                write = dataclasses.replace(
                    write, plan=dataclasses.replace(write.plan, note=None), check_comments=False
                )
            elif item.status == ItemStatus.writing and item.note_fingerprint == fingerprint:
                write = dataclasses.replace(write, check_comments=True)  # a killed attempt's
            if write.decided is None and write.plan.empty and not write.plan.stale_tags:
                write = dataclasses.replace(
                    write, decided=WriteBack.unchanged, reason="nothing new to write"
                )
            if write.decided is not None:
                applied = Applied(status=write.decided, message=write.reason)
                writeback.record(ticket, analysis, write, applied)
                _finish_item(item, write.decided)
                logs.append((_log(ctx, write, applied), ticket.id))
                continue
            writing[item.id] = {"status": ItemStatus.writing, "note_fingerprint": fingerprint}
            planned[ticket.zendesk_ticket_id] = (item.id, write)
            stamps[ticket.zendesk_ticket_id] = (raw or {}).get("updated_at")
        set_each(db, writing)  # one executemany, not a flush of each item
        save_step_logs(db, logs)
        renew(db, ctx)
    return planned, stamps


def _send(
    ctx: JobContext,
    client: ZendeskClient,
    planned: dict[int, tuple[int, TicketWrite]],
    stamps: dict[int, str | None],
) -> list[dict[str, Any]]:
    """Phase 2: look for notes an earlier attempt may have posted, then one update_many.
    Returns one result per planned ticket (success for those with nothing left to send)."""
    entries, results = [], []
    try:
        for zendesk_ticket_id, (_, write) in planned.items():
            note = None if writeback.note_already_posted(client, write) else write.plan.note
            entry = writeback.bulk_entry(write, updated_stamp=stamps[zendesk_ticket_id], note=note)
            if len(entry) > 1:
                entries.append(entry)
            else:  # only the note was due, and the earlier attempt did post it
                results.append({"id": zendesk_ticket_id, "success": True})
        if not entries:
            return results
        job_status = client.update_many(tickets=entries)
        with session_scope() as db:
            _set_writeback_job(db, ctx, str(job_status["id"]))
        return results + list(client.wait_for_job(str(job_status["id"])))
    except ZendeskError as exc:
        raise TransientUpstreamError(exc.message) from exc


def write_back(ctx: JobContext, client: ZendeskClient, raws: dict[int, dict[str, Any]]) -> None:
    """Write every analysed item back: plan, one update_many, record."""
    if _settle_previous_write(ctx, client):
        raws = _refetch_writing(ctx, client)
    planned, stamps = _plan(ctx, raws)
    if not planned:
        return
    started = time.perf_counter()
    results = _send(ctx, client, planned, stamps)
    write_ms = int((time.perf_counter() - started) * 1000)
    outcome = {int(result["id"]): result for result in results if "id" in result}
    retry_single: list[int] = []
    with session_scope() as db:
        logs: list[tuple[StepLog, int | None]] = []
        written: list[int] = []
        recorded: list[tuple[int, TicketWrite, Applied]] = []
        failed: dict[int, str] = {}  # item id: why (only these items are loaded)
        for zendesk_ticket_id, (item_id, write) in planned.items():
            result = outcome.get(zendesk_ticket_id, {})
            if result.get("success"):
                applied = Applied(
                    status=WriteBack.written, tags=write.new_tags, duration_ms=write_ms
                )
                recorded.append((write.ticket_id, write, applied))
                written.append(item_id)
                logs.append((_log(ctx, write, applied, "update_many"), write.ticket_id))
            elif "conflict" in str(result.get("error", "")).lower():
                retry_single.append(zendesk_ticket_id)  # the ticket changed since we read it
            else:
                message = f"{result.get('error', 'unknown')}: {result.get('details', '')}"
                refused = Applied(status=WriteBack.failed, duration_ms=write_ms, message=message)
                failed[item_id] = f"write-back failed: {message}"
                logs.append((_log(ctx, write, refused), write.ticket_id))
        if failed:
            for item in rows_by_id(db, BatchJobItem, list(failed)).values():
                fail_item(item, failed[item.id])
        # The tickets' tags and the analyses' write-back fields, without loading either.
        writeback.record_many(db, user_id=ctx.user_id, outcomes=recorded)
        save_step_logs(db, logs)
        # One UPDATE for the written items (not changed through the ORM) instead of a flush
        # of each.
        set_items(
            db, written, status=ItemStatus.done, finished_at=utcnow(), write_back=WriteBack.written
        )
        _set_writeback_job(db, ctx, None)
        renew(db, ctx)
    if retry_single:
        write_back_one_by_one(ctx, client, retry_single)


def write_back_one_by_one(ctx: JobContext, client: ZendeskClient, ids: list[int]) -> None:
    """Tickets that changed under us: read them again, then tags and note one at a time."""
    fresh: dict[int, dict[str, Any] | ZendeskError] = {}
    for zendesk_ticket_id in ids:  # I/O, no transaction open
        try:
            fresh[zendesk_ticket_id] = client.get_ticket(zendesk_ticket_id)
        except ZendeskError as exc:
            fresh[zendesk_ticket_id] = exc
    writes: dict[int, TicketWrite] = {}
    with session_scope() as db:  # plan
        for item, ticket, analysis in _rows(db, ctx, ids):
            raw = fresh[ticket.zendesk_ticket_id]
            if isinstance(raw, ZendeskError):
                fail_item(item, f"write-back failed: {raw.message}")
                continue
            if item.note_fingerprint and analysis.note_fingerprint != item.note_fingerprint:
                # An earlier attempt may have posted this note: look before posting it.
                analysis.note_fingerprint = writeback.pending(item.note_fingerprint)
            writes[item.id] = writeback.plan_ticket(
                ticket,
                analysis,
                ctx.integration.options,
                current_tags=list(raw.get("tags") or []),
                zendesk_status=raw.get("status"),
            )
    applied = {item_id: writeback.apply_one(client, write) for item_id, write in writes.items()}
    with session_scope() as db:  # record
        logs: list[tuple[StepLog, int | None]] = []
        for item, ticket, analysis in _rows(db, ctx, ids):
            if item.id not in writes:
                continue
            write, result = writes[item.id], applied[item.id]
            writeback.record(ticket, analysis, write, result)
            if result.status is WriteBack.failed:
                fail_item(item, f"write-back failed: {result.error}")
            else:
                _finish_item(item, result.status)
            logs.append((_log(ctx, write, result), ticket.id))
        save_step_logs(db, logs)
        renew(db, ctx)


def _rows(
    db: Session, ctx: JobContext, ids: list[int]
) -> list[tuple[BatchJobItem, Ticket, TicketAnalysis]]:
    rows = db.execute(
        select(BatchJobItem, Ticket, TicketAnalysis)
        .join(Ticket, Ticket.id == BatchJobItem.ticket_id)
        .join(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
        .where(BatchJobItem.job_id == ctx.job_id, Ticket.zendesk_ticket_id.in_(ids))
    ).all()
    return [(item, ticket, analysis) for item, ticket, analysis in rows]
