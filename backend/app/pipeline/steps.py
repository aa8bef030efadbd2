"""What every pipeline path shares: the step log, upstream clients, error mapping."""

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

from app.accounts.integrations import ResolvedIntegration, ZendeskTarget
from app.config import get_settings
from app.core import observability
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
from app.models import ProcessingLog, utcnow
from app.pipeline import analysis as analysis_service

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


def log_analysis(steps: StepLog, outcome: analysis_service.AnalysisOutcome) -> None:
    status = "fallback" if outcome.llm_error else "ok"
    message = f"source={outcome.source.value} reason={outcome.decision_reason}"
    if outcome.llm_error:
        message += f" error={outcome.llm_error}"
    steps.add("analyze", status, outcome.duration_ms, message, cost_usd=outcome.cost_usd)
    observability.record_analysis(outcome)
