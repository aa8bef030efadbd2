"""`POST /tickets/process`: one ticket through fetch → store → analyse → save → write back.

Three phases, each database step a short transaction of the caller's unit of work: nothing
is open while Zendesk or the LLM answers (the fetch, the analysis, the write-back).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import integrations
from app.accounts.integrations import ProcessingOptions
from app.analysis import cascade
from app.enums import WriteBack
from app.integrations.zendesk import ZendeskClient, ZendeskError
from app.models import Ticket, TicketAnalysis
from app.pipeline import analysis as analysis_service
from app.pipeline import store as ticket_store
from app.pipeline import writeback
from app.pipeline.steps import (
    StepLog,
    llm_analyzer,
    log_analysis,
    save_step_logs,
    zendesk_client,
    zendesk_failure,
)
from app.pipeline.writeback import Applied
from app.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ProcessResult:
    ticket: Ticket
    analysis: TicketAnalysis
    write_back_status: WriteBack
    write_back_error: str | None = None


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def process_ticket(*, uow: UnitOfWork, user_id: int, zendesk_ticket_id: int) -> ProcessResult:
    """Run the whole pipeline for one ticket. Nothing is stored if the fetch fails."""
    started = time.perf_counter()
    steps = StepLog(user_id=user_id, zendesk_ticket_id=zendesk_ticket_id)
    with uow.transaction() as db:  # plan: settings, credentials and the user's model
        integration = integrations.resolve(db=db, user_id=user_id)
        context = cascade.context_for(user_id, db=db)
    client = zendesk_client(integration.zendesk)
    try:
        with steps.step("fetch"):
            raw = client.get_ticket(zendesk_ticket_id)
    except ZendeskError as exc:
        raise zendesk_failure(exc, zendesk_ticket_id) from exc
    fields = ticket_store.ticket_fields(raw)  # 422 for what cannot be stored, before storing
    with uow.transaction() as db, steps.step("store"):
        ticket_id = ticket_store.upsert_ticket(db=db, user_id=user_id, raw=raw).id
    outcome = analysis_service.analyze(
        fields["subject"],
        fields["description"],
        options=integration.options,
        llm=llm_analyzer(integration),
        context=context,
    )
    log_analysis(steps, outcome)
    with uow.transaction() as db:  # record the analysis; claim the write-back
        # Locked until this transaction ends: a second request for the same ticket plans
        # after this one has claimed the note, and leaves that note to it.
        ticket = db.get_one(Ticket, ticket_id, with_for_update=True, populate_existing=True)
        with steps.step("save"):
            analysis = ticket_store.save_analysis(
                db=db, ticket=ticket, outcome=outcome, processing_time_ms=_ms_since(started)
            )
        write = writeback.plan_ticket(ticket, analysis, integration.options, leave_live_claims=True)
    applied = writeback.apply_one(client, write)
    with uow.transaction() as db:  # record the write-back
        ticket = db.get_one(Ticket, ticket_id)
        analysis = db.get_one(TicketAnalysis, analysis.id)
        writeback.record(ticket, analysis, write, applied)
        steps.add(
            "write_back",
            writeback.step_status(applied.status),
            applied.duration_ms,
            applied.message or None,
        )
        analysis.processing_time_ms = _ms_since(started)
        steps.save(db, ticket.id)
    return ProcessResult(
        ticket=ticket,
        analysis=analysis,
        write_back_status=applied.status,
        write_back_error=applied.error,
    )


def write_back_each(
    *,
    uow: UnitOfWork,
    client: ZendeskClient,
    options: ProcessingOptions,
    ticket_ids: list[int],
    job_id: str | None = None,
) -> dict[int, Applied]:
    """Write stored analyses back one ticket at a time (the Batch API's answers): read each
    ticket as Zendesk has it now, plan, send, record — no transaction open during I/O."""
    with uow.transaction() as db:
        wanted = {
            ticket.id: ticket.zendesk_ticket_id
            for ticket in db.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)))
        }
    fresh: dict[int, dict[str, Any] | ZendeskError] = {}
    for ticket_id, zendesk_ticket_id in wanted.items():
        try:
            fresh[ticket_id] = client.get_ticket(zendesk_ticket_id)
        except ZendeskError as exc:
            fresh[ticket_id] = exc
    writes: dict[int, writeback.TicketWrite] = {}
    results: dict[int, Applied] = {}
    with uow.transaction() as db:  # plan: claims each note as pending
        for ticket, analysis in _with_analyses(db, list(wanted)):
            raw = fresh[ticket.id]
            if isinstance(raw, ZendeskError):
                results[ticket.id] = Applied(
                    status=WriteBack.failed, error=raw.message, message=f"fetch: {raw.message}"
                )
                continue
            tags = [ticket_store.clean_text(tag, 80) for tag in raw.get("tags") or []]
            status = ticket_store.clean_text(raw.get("status"), 16)
            ticket.tags, ticket.status = tags, status or ticket.status
            writes[ticket.id] = writeback.plan_ticket(ticket, analysis, options)
    results |= {
        ticket_id: writeback.apply_one(client, write) for ticket_id, write in writes.items()
    }
    with uow.transaction() as db:  # record
        logs: list[tuple[StepLog, int | None]] = []
        for ticket, analysis in _with_analyses(db, list(wanted)):
            applied = results[ticket.id]
            if ticket.id in writes:
                writeback.record(ticket, analysis, writes[ticket.id], applied)
            steps = StepLog(ticket.user_id, ticket.zendesk_ticket_id, job_id)
            steps.add(
                "write_back",
                writeback.step_status(applied.status),
                applied.duration_ms,
                applied.message or None,
            )
            logs.append((steps, ticket.id))
        save_step_logs(db, logs)
    return results


def _with_analyses(db: Session, ticket_ids: list[int]) -> list[tuple[Ticket, TicketAnalysis]]:
    rows = db.execute(
        select(Ticket, TicketAnalysis)
        .join(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
        .where(Ticket.id.in_(ticket_ids))
        .order_by(TicketAnalysis.id)
    ).all()
    return [(ticket, analysis) for ticket, analysis in rows]
