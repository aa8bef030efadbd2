"""Submitting pending tickets to the OpenAI Batch API, in three phases.

- Plan (a short transaction): the batch row and one request row per pending ticket are
  committed, the batch `submitted` with no `openai_batch_id` yet. The requests take the
  tickets out of `pending`, so no other run puts them in a second batch.
- I/O (no transaction): the JSONL upload, whose lines are built by the synchronous call's
  own builder (`LLMAnalyzer.build_request`), `custom_id` = "triage-<batch row>-<ticket row>",
  then a batch for /v1/chat/completions with completion_window "24h".
- Record (a short transaction): the upstream ids are stored on the batch row.

When the I/O fails, the planned rows are deleted and the tickets wait for the next run. A
crash between plan and record leaves a batch without upstream id: `poll_open_batches`
uploads it again from its stored requests once it is older than `RESEND_AFTER` (the payload
is rebuilt from the same rows and custom ids, and only the batch id recorded is applied).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.accounts.integrations import LLMTarget
from app.batch.llm_batch import (
    COMPLETION_WINDOW,
    ENDPOINT,
    MAX_REQUESTS_PER_BATCH,
    LLMBatchError,
    batch_client,
    llm_setup,
    locked_batch,
    poll_batch,
)
from app.enums import AnalysisRoute, LLMBatchState, LLMRequestState
from app.errors import AppError
from app.models import LLMBatch, LLMBatchRequest, Ticket, TicketAnalysis, utcnow
from app.pipeline import analysis as analysis_service
from app.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

RESEND_AFTER = timedelta(minutes=15)
"""A batch planned this long ago and still without upstream id was left by a crash (an
upload with the client's retries ends well before)."""


@dataclass(frozen=True)
class SubmitResult:
    batch_id: int | None
    openai_batch_id: str | None
    requests: int


@dataclass(frozen=True)
class _Upload:
    batch_id: int
    user_id: int
    target: LLMTarget
    payload: bytes
    requests: int


def pending(*, db: Session, user_id: int, limit: int) -> list[tuple[TicketAnalysis, Ticket]]:
    """The user's provisional answers waiting for the Batch API and not yet in a batch."""
    in_flight = (
        select(LLMBatchRequest.id)
        .where(
            LLMBatchRequest.ticket_id == TicketAnalysis.ticket_id,
            LLMBatchRequest.state == LLMRequestState.submitted,
        )
        .exists()
    )
    rows = db.execute(
        select(TicketAnalysis, Ticket)
        .join(Ticket, Ticket.id == TicketAnalysis.ticket_id)
        .where(
            TicketAnalysis.user_id == user_id,
            Ticket.user_id == user_id,
            TicketAnalysis.route == AnalysisRoute.batch_pending,
            ~in_flight,
        )
        .order_by(TicketAnalysis.id)
        .limit(limit)
    ).all()
    return [(analysis, ticket) for analysis, ticket in rows]


def _upload_of(db: Session, batch: LLMBatch) -> _Upload | None:
    """The JSONL of a planned batch, built from its stored requests (None without a key)."""
    setup = llm_setup(db, batch.user_id)
    if setup is None:
        return None
    target, options = setup
    analyzer = analysis_service.build_llm_analyzer(target, options)
    rows = db.execute(
        select(LLMBatchRequest.custom_id, Ticket.subject, Ticket.description)
        .join(Ticket, Ticket.id == LLMBatchRequest.ticket_id)
        .where(LLMBatchRequest.batch_id == batch.id)
        .order_by(LLMBatchRequest.id)
    ).all()
    lines = [
        json.dumps(
            {
                "custom_id": custom_id,
                "method": "POST",
                "url": ENDPOINT,
                "body": analyzer.build_request(subject, description).body,
            },
            ensure_ascii=False,
        )
        for custom_id, subject, description in rows
    ]
    payload = ("\n".join(lines) + "\n").encode("utf-8")
    return _Upload(batch.id, batch.user_id, target, payload, len(lines))


def _plan(db: Session, user_id: int, limit: int) -> _Upload | None:
    """Claim the user's pending tickets in a batch row not yet uploaded."""
    setup = llm_setup(db, user_id)
    if setup is None:
        return None
    waiting = pending(db=db, user_id=user_id, limit=min(limit, MAX_REQUESTS_PER_BATCH))
    if not waiting:
        return None
    batch = LLMBatch(
        user_id=user_id,
        model=setup[0].model,
        status="validating",
        state=LLMBatchState.submitted,
        request_count=len(waiting),
    )
    db.add(batch)
    db.flush()
    db.add_all(
        LLMBatchRequest(
            batch_id=batch.id,
            user_id=user_id,
            ticket_id=ticket.id,
            custom_id=f"triage-{batch.id}-{ticket.id}",
            state=LLMRequestState.submitted,
        )
        for _, ticket in waiting
    )
    db.flush()
    return _upload_of(db, batch)


def _send(uow: UnitOfWork, upload: _Upload) -> SubmitResult:
    """I/O with no transaction open, then record the upstream ids."""
    with batch_client(upload.target) as client:
        uploaded = client.files.create(
            file=(f"triage-batch-{upload.batch_id}.jsonl", upload.payload, "application/jsonl"),
            purpose="batch",
        )
        remote = client.batches.create(
            input_file_id=uploaded.id,
            endpoint=ENDPOINT,
            completion_window=COMPLETION_WINDOW,
            metadata={"triage_batch_id": str(upload.batch_id), "user_id": str(upload.user_id)},
        )
    with uow.transaction() as db:
        batch = locked_batch(db, upload.batch_id)
        if batch is None or batch.openai_batch_id is not None:
            logger.warning("batch %s was recorded by another run", upload.batch_id)
            return SubmitResult(upload.batch_id, None, 0)
        batch.openai_batch_id, batch.input_file_id = remote.id, uploaded.id
        batch.status, batch.request_count = remote.status, upload.requests
    logger.info(
        "user %s: batch %s submitted with %s tickets", upload.user_id, remote.id, upload.requests
    )
    return SubmitResult(upload.batch_id, remote.id, upload.requests)


def submit_pending(
    *, uow: UnitOfWork, user_id: int, limit: int = MAX_REQUESTS_PER_BATCH
) -> SubmitResult:
    """Upload the user's pending tickets as one batch; nothing to do without any or without a
    key. When the upload fails the planned rows are deleted, so the next run retries."""
    with uow.transaction() as db:
        upload = _plan(db, user_id, limit)
    if upload is None:
        return SubmitResult(None, None, 0)
    try:
        return _send(uow, upload)
    except Exception:
        with uow.transaction() as db:
            batch = locked_batch(db, upload.batch_id)
            if batch is not None and batch.openai_batch_id is None:
                db.execute(
                    delete(LLMBatchRequest).where(LLMBatchRequest.batch_id == upload.batch_id)
                )
                db.delete(batch)
        raise


def resume_unsent(*, uow: UnitOfWork, batch_id: int, older_than: timedelta = RESEND_AFTER) -> bool:
    """Upload a batch a crash left without upstream id; True when this run sent it.

    The claim moves `updated_at` forward (compare-and-set), so two sweeps never upload the
    same batch at once, and a submission still in its I/O phase is left alone."""
    with uow.transaction() as db:
        claimed = db.execute(
            update(LLMBatch)
            .where(
                LLMBatch.id == batch_id,
                LLMBatch.state == LLMBatchState.submitted,
                LLMBatch.openai_batch_id.is_(None),
                LLMBatch.updated_at < utcnow() - older_than,
            )
            .values(updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        batch = db.get(LLMBatch, batch_id) if claimed == 1 else None
        upload = _upload_of(db, batch) if batch is not None else None
    if upload is None:
        return False
    _send(uow, upload)
    return True


def submit_all_pending() -> dict[str, int]:
    """Submit every opted-in user's pending tickets, one unit of work per user."""
    from app.database import get_session_factory, session_scope
    from app.models import CascadeSettings

    with session_scope() as db:
        user_ids = list(
            db.scalars(
                select(CascadeSettings.user_id).where(CascadeSettings.use_llm_batch_api.is_(True))
            )
        )
    submitted = {"batches": 0, "requests": 0}
    for user_id in user_ids:
        try:
            with get_session_factory()() as db:
                result = submit_pending(uow=UnitOfWork(db), user_id=user_id)
        except (LLMBatchError, AppError) as exc:  # one user's settings never stop the rest
            logger.warning("submitting a batch for user %s failed: %s", user_id, exc)
            continue
        if result.requests:
            submitted["batches"] += 1
            submitted["requests"] += result.requests
    return submitted


def poll_open_batches(*, user_id: int | None = None) -> dict[str, int]:
    """Poll every submitted batch, each in its own units of work, and upload again those a
    crash left without upstream id; a failing one does not stop the rest."""
    from app.database import get_session_factory, session_scope

    with session_scope() as db:
        query = select(LLMBatch.id, LLMBatch.openai_batch_id).where(
            LLMBatch.state == LLMBatchState.submitted
        )
        if user_id is not None:
            query = query.where(LLMBatch.user_id == user_id)
        batches = list(db.execute(query.order_by(LLMBatch.id)))
    counts: dict[str, int] = {}
    for batch_id, remote_id in batches:
        try:
            with get_session_factory()() as db:
                uow = UnitOfWork(db)
                if remote_id is None:
                    state = "resent" if resume_unsent(uow=uow, batch_id=batch_id) else "planned"
                else:
                    state = poll_batch(uow=uow, batch_id=batch_id)
        except (LLMBatchError, AppError) as exc:
            logger.warning("polling LLM batch %s failed: %s", batch_id, exc)
            state = "error"
        counts[state] = counts.get(state, 0) + 1
    return counts
