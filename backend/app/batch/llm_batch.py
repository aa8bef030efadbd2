"""Non-urgent LLM work through the OpenAI Batch API: half the price, answers within 24 h.

Opting in: `cascade_settings.use_llm_batch_api` (per user, off by default). With it on, a
ticket the LLM should answer (cascade unsure, or mode `llm`) that is not urgent (the offline
urgency is not high and no urgency rule fired) gets the offline answer at once, written back
as usual, with route `batch_pending` (its `decision_reason` ends in "→ llm batch pending",
for people). Urgent tickets still go to the LLM synchronously.

- `llm_submit.submit_pending` puts a user's pending tickets into one batch (plan, upload,
  record); see that module.
- `poll_batch` follows a batch; once completed, `apply_batch` stores each answer as the
  ticket's analysis (source=batch, cost at the batch price) and writes tags and the note back
  through the single-ticket write-back. A batch that fails or expires keeps the offline
  answers ("→ llm batch failed …").
- Applying is idempotent: the batch row and every request carry a state, and only requests
  still `submitted` are applied, so a second apply (or a redelivered task) changes nothing.
  A ticket re-analysed in the meantime is left alone (request `superseded`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import openai
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import integrations
from app.accounts.integrations import LLMTarget, ProcessingOptions
from app.analysis.cascade import BATCH_PENDING, clip
from app.config import get_settings
from app.enums import AnalysisRoute, AnalysisSource, LLMBatchState, LLMRequestState
from app.errors import AppError
from app.integrations.llm import (
    LLMAnalyzer,
    LLMError,
    LLMMalformedOutputError,
    LLMUpstreamError,
)
from app.integrations.llm.clients import sdk_client
from app.models import LLMBatch, LLMBatchRequest, Ticket, TicketAnalysis, utcnow
from app.pipeline import analysis as analysis_service
from app.pipeline import store as ticket_store
from app.pipeline.analysis import AnalysisOutcome, from_llm
from app.pipeline.single import write_back_each
from app.pipeline.steps import StepLog, log_analysis, save_step_logs, zendesk_client
from app.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
MAX_REQUESTS_PER_BATCH = 50_000
OPEN_STATUSES = ("validating", "in_progress", "finalizing", "cancelling")
BATCH_ANSWERED = "→ llm batch"
MONEY_QUANTUM = Decimal("0.000001")  # what a Numeric(14, 6) column keeps


class LLMBatchError(Exception):
    """The Batch API could not be reached or refused the request; try again later."""


@dataclass(frozen=True)
class ApplyResult:
    applied: int = 0
    failed: int = 0
    superseded: int = 0
    already_applied: bool = False


@contextmanager
def batch_client(target: LLMTarget) -> Iterator[openai.OpenAI]:
    settings = get_settings()
    client = sdk_client(
        target.api_key,
        target.base_url,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )
    try:
        yield client
    except openai.OpenAIError as exc:
        raise LLMBatchError(f"Batch API: {type(exc).__name__}: {exc}"[:500]) from exc
    finally:
        client.close()


def _replace_marker(reason: str | None, replacement: str) -> str:
    return clip((reason or "").replace(BATCH_PENDING, replacement))


# --- polling and applying -------------------------------------------------------------------
def llm_setup(db: Session, user_id: int) -> tuple[LLMTarget, ProcessingOptions] | None:
    row = integrations.get_row(db=db, user_id=user_id)
    target = integrations.llm_target(row)
    return None if target is None else (target, integrations.options_of(row))


def locked_batch(db: Session, batch_id: int) -> LLMBatch | None:
    query = select(LLMBatch).where(LLMBatch.id == batch_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return db.scalar(query)


def poll_batch(*, uow: UnitOfWork, batch_id: int) -> str:
    """Refresh one batch; apply it when completed, give up on it when it failed. Returns our
    state (submitted, applied or failed). OpenAI is asked with no transaction open."""
    with uow.transaction() as db:
        batch = db.get(LLMBatch, batch_id)
        if batch is None:
            raise LookupError(f"no LLM batch {batch_id}")
        if batch.state != LLMBatchState.submitted or batch.openai_batch_id is None:
            return batch.state  # not uploaded yet: `llm_submit.resume_unsent` finishes it
        setup = llm_setup(db, batch.user_id)
        if setup is None:
            _fail_batch(db, batch, "no OpenAI key configured any more")
            return batch.state
        target, remote_id = setup[0], batch.openai_batch_id
    with batch_client(target) as client:
        remote = client.batches.retrieve(remote_id)
    with uow.transaction() as db:
        batch = locked_batch(db, batch_id)
        assert batch is not None
        if batch.state != LLMBatchState.submitted:
            return batch.state  # another poll finished it meanwhile
        batch.status = remote.status
        if remote.status in OPEN_STATUSES:
            return batch.state
        if remote.status != "completed":
            errors = remote.errors.data if remote.errors and remote.errors.data else []
            detail = "; ".join(f"{error.code}: {error.message}" for error in errors[:3])
            _fail_batch(db, batch, f"batch {remote.status}" + (f" ({detail})" if detail else ""))
            return batch.state
        batch.output_file_id = remote.output_file_id
        batch.error_file_id = remote.error_file_id
        batch.completed_at = utcnow()
    apply_batch(uow=uow, batch_id=batch_id)
    with uow.transaction() as db:
        return db.get_one(LLMBatch, batch_id).state


def _fail_batch(db: Session, batch: LLMBatch, error: str) -> None:
    """Keep the offline answers and say why the LLM's never came."""
    batch.state, batch.error = "failed", error[:2000]
    for request in db.scalars(
        select(LLMBatchRequest).where(
            LLMBatchRequest.batch_id == batch.id, LLMBatchRequest.state == "submitted"
        )
    ):
        request.state, request.error = "failed", error[:2000]
        analysis = ticket_store.get_analysis(db=db, ticket_id=request.ticket_id)
        if analysis is not None and analysis.route == AnalysisRoute.batch_pending:
            analysis.route = AnalysisRoute.batch_failed
            analysis.decision_reason = _replace_marker(
                analysis.decision_reason, f"→ llm batch failed ({error[:40]})"
            )
    db.flush()


def _result_lines(client: openai.OpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    if not file_id:
        return {}
    content = client.files.content(file_id).content.decode("utf-8")
    lines: dict[str, dict[str, Any]] = {}
    for raw in content.splitlines():
        if raw.strip():
            line = json.loads(raw)
            lines[str(line.get("custom_id"))] = line
    return lines


def _outcome(
    line: dict[str, Any] | None,
    analysis: TicketAnalysis,
    analyzer: LLMAnalyzer,
    options: ProcessingOptions,
) -> AnalysisOutcome:
    """The analysis in one result line, priced at the batch rate; LLMError when unusable."""
    if line is None:
        raise LLMMalformedOutputError("the batch has no result for this ticket")
    response = line.get("response") or {}
    if line.get("error") or response.get("status_code") != 200:
        error = line.get("error") or (response.get("body") or {}).get("error") or {}
        raise LLMUpstreamError(
            f"status {response.get('status_code')}: {error.get('message', 'unknown error')}"[:300],
            status_code=response.get("status_code"),
        )
    result = analyzer.result_from_completion(response.get("body") or {}, batch=True)
    result = replace(result, cost_usd=result.cost_usd.quantize(MONEY_QUANTUM))
    return from_llm(
        result,
        options,
        _replace_marker(analysis.decision_reason, BATCH_ANSWERED),
        source=AnalysisSource.batch,
        route=AnalysisRoute.batch,
    )


def apply_batch(*, uow: UnitOfWork, batch_id: int) -> ApplyResult:
    """Store the answers of a completed batch once, then write them back to Zendesk.

    Plan (read the batch), I/O (download the result files), record (under the batch's
    lock, only requests still submitted: a second apply changes nothing), then the
    write-back in its own phases."""
    with uow.transaction() as db:
        batch = db.get(LLMBatch, batch_id)
        if batch is None:
            raise LookupError(f"no LLM batch {batch_id}")
        if batch.state == LLMBatchState.applied:
            return ApplyResult(already_applied=True)
        if batch.status != "completed":
            raise ValueError(f"batch {batch_id} is {batch.status}, not completed")
        setup = llm_setup(db, batch.user_id)
        if setup is None:
            _fail_batch(db, batch, "no OpenAI key configured any more")
            return ApplyResult()
        target, options = setup
        user_id, files = batch.user_id, (batch.output_file_id, batch.error_file_id)
    with batch_client(target) as client:
        results = _result_lines(client, files[0])
        results.update(_result_lines(client, files[1]))
    analyzer = analysis_service.build_llm_analyzer(target, options)
    with uow.transaction() as db:
        batch = locked_batch(db, batch_id)
        assert batch is not None
        if batch.state == LLMBatchState.applied:
            return ApplyResult(already_applied=True)
        counts, applied_ids = _store_answers(db, batch, results, analyzer, options)
        batch.state, batch.applied_at = LLMBatchState.applied, utcnow()
        try:
            integration = integrations.resolve(db=db, user_id=user_id)
        except AppError as exc:
            logger.warning("batch %s: answers stored without write-back: %s", batch_id, exc)
            integration = None
    logger.info("batch %s applied: %s", batch_id, counts)
    if integration is not None and applied_ids:
        write_back_each(
            uow=uow,
            client=zendesk_client(integration.zendesk),
            options=integration.options,
            ticket_ids=applied_ids,
        )
    return ApplyResult(**counts)


def _store_answers(
    db: Session,
    batch: LLMBatch,
    results: dict[str, dict[str, Any]],
    analyzer: LLMAnalyzer,
    options: ProcessingOptions,
) -> tuple[dict[str, int], list[int]]:
    """Each request still submitted: its answer becomes the ticket's analysis, or fails."""
    counts = {"applied": 0, "failed": 0, "superseded": 0}
    applied_ids: list[int] = []
    requests = db.scalars(
        select(LLMBatchRequest)
        .where(
            LLMBatchRequest.batch_id == batch.id,
            LLMBatchRequest.state == LLMRequestState.submitted,
        )
        .order_by(LLMBatchRequest.id)
    ).all()
    logs: list[tuple[StepLog, int | None]] = []
    for request in requests:
        ticket = db.get(Ticket, request.ticket_id)
        analysis = ticket_store.get_analysis(db=db, ticket_id=request.ticket_id)
        if (
            ticket is None
            or ticket.user_id != batch.user_id
            or analysis is None
            or analysis.route != AnalysisRoute.batch_pending
        ):
            request.state = LLMRequestState.superseded  # re-analysed (or gone) since
            counts["superseded"] += 1
            continue
        try:
            outcome = _outcome(results.get(request.custom_id), analysis, analyzer, options)
        except LLMError as exc:
            request.state, request.error = LLMRequestState.failed, f"{exc.kind}: {exc}"[:2000]
            analysis.route = AnalysisRoute.batch_failed
            analysis.decision_reason = _replace_marker(
                analysis.decision_reason, f"→ llm batch failed ({exc.kind})"
            )
            counts["failed"] += 1
            continue
        ticket_store.save_analysis(
            db=db, ticket=ticket, outcome=outcome, processing_time_ms=analysis.processing_time_ms
        )
        request.state, request.applied_at = LLMRequestState.applied, utcnow()
        request.input_tokens = outcome.input_tokens
        request.cached_input_tokens = outcome.cached_input_tokens
        request.output_tokens = outcome.output_tokens
        request.cost_usd = outcome.cost_usd
        counts["applied"] += 1
        applied_ids.append(ticket.id)
        steps = StepLog(batch.user_id, ticket.zendesk_ticket_id)
        log_analysis(steps, outcome)
        logs.append((steps, ticket.id))
    save_step_logs(db, logs)
    return counts, applied_ids
