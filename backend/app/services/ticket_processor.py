"""Process one ticket: fetch → store → analyse → save → write back, logging every step."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app import observability
from app.accounts import integrations
from app.accounts.integrations import ResolvedIntegration, ZendeskTarget
from app.config import get_settings
from app.errors import AppError, NotFound, UpstreamError, upstream_rate_limited
from app.integrations import factory
from app.integrations.llm import LLMAnalyzer
from app.integrations.zendesk import (
    ZendeskAuthError,
    ZendeskClient,
    ZendeskError,
    ZendeskNotFound,
    ZendeskRateLimited,
)
from app.models import ProcessingLog, Ticket, TicketAnalysis, utcnow
from app.services import analysis_service, ticket_store, writeback

logger = logging.getLogger(__name__)


@dataclass
class StepLog:
    """Collects ProcessingLog rows for one ticket; written once the ticket row exists."""

    user_id: int
    zendesk_ticket_id: int
    job_id: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        step: str,
        status: str,
        duration_ms: int,
        message: str | None = None,
        cost_usd: Decimal = Decimal("0"),
    ) -> None:
        self.rows.append(
            {
                "user_id": self.user_id,
                "zendesk_ticket_id": self.zendesk_ticket_id,
                "job_id": self.job_id,
                "step": step,
                "status": status,
                "duration_ms": duration_ms,
                "message": message,
                "cost_usd": cost_usd,
                "created_at": utcnow(),
            }
        )

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            self.add(name, "error", _ms_since(started), _describe(exc))
            raise
        self.add(name, "ok", _ms_since(started))

    def save(self, db: Session, ticket_id: int | None) -> None:
        save_step_logs(db, [(self, ticket_id)])


def save_step_logs(db: Session, logs: list[tuple[StepLog, int | None]]) -> None:
    """Insert the rows of many StepLogs with one executemany (cheap on the batch hot path)."""
    rows = [{**row, "ticket_id": ticket_id} for steps, ticket_id in logs for row in steps.rows]
    for steps, _ in logs:
        steps.rows = []
    if rows:
        # A Core insert on the table: the ORM's bulk path costs several times more CPU here.
        db.execute(insert(ProcessingLog.__table__), rows)


@dataclass(frozen=True)
class ProcessResult:
    ticket: Ticket
    analysis: TicketAnalysis
    write_back_status: str  # written | unchanged | skipped (closed ticket) | failed
    write_back_error: str | None = None


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def zendesk_client(target: ZendeskTarget) -> ZendeskClient:
    return factory.zendesk_client(get_settings(), target.base_url, target.credentials)


def llm_analyzer(integration: ResolvedIntegration) -> LLMAnalyzer | None:
    if integration.llm is None:
        return None
    return analysis_service.build_llm_analyzer(integration.llm, integration.options)


def zendesk_failure(exc: ZendeskError, zendesk_ticket_id: int) -> AppError:
    """Map a Zendesk client error to the error our API reports."""
    if isinstance(exc, ZendeskNotFound):
        return NotFound(
            f"Ticket {zendesk_ticket_id} was not found in Zendesk: {exc.message}",
            code="zendesk_not_found",
        )
    if isinstance(exc, ZendeskRateLimited):
        return upstream_rate_limited(
            "Zendesk", exc.message, exc.retry_after_s, code="zendesk_rate_limited"
        )
    if isinstance(exc, ZendeskAuthError):
        return UpstreamError(
            f"Zendesk rejected the configured credentials ({exc.status_code}): {exc.message}",
            code="zendesk_auth_failed",
        )
    return UpstreamError(
        f"Zendesk could not be reached or failed: {exc.message}", code="zendesk_unavailable"
    )


def apply_write_back(
    *,
    client: ZendeskClient,
    ticket: Ticket,
    analysis: TicketAnalysis,
    integration: ResolvedIntegration,
    steps: StepLog,
) -> tuple[str, str | None]:
    """Write tags and the note one ticket at a time; a failure keeps the stored analysis."""
    if ticket.status == "closed":
        steps.add("write_back", "skipped", 0, "closed tickets cannot be updated in Zendesk")
        return "skipped", None
    write_plan = writeback.plan(analysis, integration.options, current_tags=list(ticket.tags))
    wanted = writeback.triage_tags(analysis, integration.options.tag_prefix)
    if write_plan.empty and not write_plan.stale_tags:
        steps.add("write_back", "skipped", 0, "nothing new to write")
        if integration.options.write_tags:
            analysis.tags_written = wanted
        return "unchanged", None
    started = time.perf_counter()
    note = write_plan.note
    try:
        if (
            note is not None
            and write_plan.note_fingerprint is not None
            and analysis.note_fingerprint == writeback.pending(write_plan.note_fingerprint)
            and writeback.already_posted(
                client.get_comments(ticket.zendesk_ticket_id), write_plan.note_fingerprint
            )
        ):
            note = None  # the earlier attempt timed out but Zendesk applied it
        if write_plan.stale_tags:
            ticket.tags = client.remove_tags(ticket.zendesk_ticket_id, write_plan.stale_tags)
        if write_plan.tags or note:
            if note is not None and write_plan.note_fingerprint is not None:
                analysis.note_fingerprint = writeback.pending(write_plan.note_fingerprint)
            result = client.add_tags_and_note(ticket.zendesk_ticket_id, write_plan.tags, note)
            ticket.tags = list(result.tags)
    except ZendeskError as exc:
        steps.add("write_back", "error", _ms_since(started), _describe(exc))
        return "failed", exc.message
    if integration.options.write_tags:
        analysis.tags_written = wanted
    if write_plan.note_fingerprint is not None and write_plan.note is not None:
        analysis.note_fingerprint = write_plan.note_fingerprint
    analysis.written_back_at = utcnow()
    note_state = "posted" if write_plan.note else "unchanged"
    message = f"tags +{write_plan.tags} -{write_plan.stale_tags}; note {note_state}"
    steps.add("write_back", "ok", _ms_since(started), message)
    return "written", None


def log_analysis(steps: StepLog, outcome: analysis_service.AnalysisOutcome) -> None:
    status = "fallback" if outcome.llm_error else "ok"
    message = f"source={outcome.source.value} reason={outcome.decision_reason}"
    if outcome.llm_error:
        message += f" error={outcome.llm_error}"
    steps.add("analyze", status, outcome.duration_ms, message, cost_usd=outcome.cost_usd)
    observability.record_analysis(outcome)


def process_ticket(
    *, db: Session, user_id: int, zendesk_ticket_id: int, job_id: str | None = None
) -> ProcessResult:
    """Run the whole pipeline for one ticket. Nothing is stored if the fetch fails."""
    started = time.perf_counter()
    integration = integrations.resolve(db=db, user_id=user_id)
    client = zendesk_client(integration.zendesk)
    steps = StepLog(user_id=user_id, zendesk_ticket_id=zendesk_ticket_id, job_id=job_id)
    try:
        with steps.step("fetch"):
            raw = client.get_ticket(zendesk_ticket_id)
    except ZendeskError as exc:
        raise zendesk_failure(exc, zendesk_ticket_id) from exc
    with steps.step("store"):
        ticket = ticket_store.upsert_ticket(db=db, user_id=user_id, raw=raw)
    outcome = analysis_service.analyze(
        ticket.subject,
        ticket.description,
        options=integration.options,
        llm=llm_analyzer(integration),
        user_id=user_id,
        db=db,
    )
    log_analysis(steps, outcome)
    with steps.step("save"):
        analysis = ticket_store.save_analysis(
            db=db, ticket=ticket, outcome=outcome, processing_time_ms=_ms_since(started)
        )
    status, error = apply_write_back(
        client=client, ticket=ticket, analysis=analysis, integration=integration, steps=steps
    )
    analysis.processing_time_ms = _ms_since(started)
    steps.save(db, ticket.id)
    return ProcessResult(
        ticket=ticket, analysis=analysis, write_back_status=status, write_back_error=error
    )


def ticket_detail(*, db: Session, user_id: int, zendesk_ticket_id: int) -> dict[str, Any]:
    ticket = ticket_store.get_ticket(db=db, user_id=user_id, zendesk_ticket_id=zendesk_ticket_id)
    if ticket is None:
        raise NotFound(f"Ticket {zendesk_ticket_id} has not been processed")
    return {
        "ticket": ticket,
        "analysis": ticket_store.get_analysis(db=db, ticket_id=ticket.id),
        "logs": ticket_store.logs_for(db=db, ticket_id=ticket.id),
    }
