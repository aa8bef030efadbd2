"""Choose the analyzer for a ticket and return one outcome shape, whichever path answered.

Modes (per integration, `analysis_mode`): `cascade` — the offline model answers alone when it
is confident for every gated field, otherwise the LLM (see `app.analysis.cascade`); `llm` —
every ticket goes to the LLM; `local` — the LLM is never asked. `auto` (the default) means
`cascade` when an LLM key is configured and `local` otherwise. Any LLM failure falls back to
the offline model with the cause recorded (source=fallback). `decision_reason` always says
which path answered and why.

With `user_id`, the user's active offline model and cascade settings are used; users who
opted in to the Batch API get a provisional offline answer for non-urgent tickets the LLM
should answer, marked for `app.batch.llm_batch`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from app.accounts.integrations import LLMTarget, ProcessingOptions
from app.analysis import cascade
from app.analysis.cascade import CascadeContext
from app.analysis.offline_analyzer import OfflineAnalysis
from app.analysis.pii import redact
from app.config import get_settings
from app.enums import AnalysisRoute, AnalysisSource, Category, Sentiment, Urgency
from app.integrations import factory
from app.integrations.llm import LLMAnalyzer, LLMError, LLMRateLimitedError, LLMResult
from app.integrations.llm.request import LLMRequest

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalysisOutcome:
    category: Category
    urgency: Urgency
    sentiment: Sentiment
    confidence: float
    category_confidence: float | None
    urgency_confidence: float | None
    sentiment_confidence: float | None
    language: str | None
    summary: str
    reply_draft: str | None
    suggested_tags: list[str]
    source: AnalysisSource
    decision_reason: str
    route: AnalysisRoute
    model: str | None = None
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal("0")
    pii_redactions: dict[str, int] = field(default_factory=dict)
    llm_error: str | None = None
    duration_ms: int = 0


def build_llm_analyzer(target: LLMTarget, options: ProcessingOptions) -> LLMAnalyzer:
    return factory.llm_analyzer(
        get_settings(),
        api_key=target.api_key,
        model=target.model,
        base_url=target.base_url,
        redact_pii=options.redact_pii,
        reply_draft=options.reply_draft,
    )


def _from_offline(
    result: OfflineAnalysis,
    *,
    model_version: str,
    source: AnalysisSource,
    route: AnalysisRoute,
    reason: str,
    redact_summary: bool,
    llm_error: str | None = None,
) -> AnalysisOutcome:
    summary = result.summary
    counts: dict[str, int] = {}
    if redact_summary:
        redaction = redact(summary)
        summary, counts = redaction.text[:300], dict(redaction.counts)
    return AnalysisOutcome(
        category=result.category,
        urgency=result.urgency,
        sentiment=result.sentiment,
        confidence=min(result.category_confidence, result.urgency_confidence),
        category_confidence=result.category_confidence,
        urgency_confidence=result.urgency_confidence,
        sentiment_confidence=result.sentiment_confidence,
        language=result.language,
        summary=summary,
        reply_draft=None,
        suggested_tags=list(result.suggested_tags),
        source=source,
        decision_reason=cascade.clip(reason),
        route=route,
        model=f"offline-{model_version}"[:100],
        pii_redactions=counts,
        llm_error=llm_error,
    )


def from_llm(
    result: LLMResult,
    options: ProcessingOptions,
    reason: str,
    source: AnalysisSource = AnalysisSource.llm,
    route: AnalysisRoute = AnalysisRoute.llm,
) -> AnalysisOutcome:
    """The outcome of an LLM answer (a live call, or a Batch API result with source=batch)."""
    output = result.output
    return AnalysisOutcome(
        category=output.category,
        urgency=output.urgency,
        sentiment=output.sentiment,
        confidence=output.confidence,
        category_confidence=None,
        urgency_confidence=None,
        sentiment_confidence=None,
        language=output.language,
        summary=output.summary,
        reply_draft=(output.reply_draft or None) if options.reply_draft else None,
        suggested_tags=list(output.suggested_tags),
        source=source,
        decision_reason=cascade.clip(reason),
        route=route,
        model=result.model,
        input_tokens=result.input_tokens,
        cached_input_tokens=result.cached_input_tokens,
        output_tokens=result.output_tokens,
        cost_usd=result.cost_usd,
        pii_redactions=dict(result.redaction_counts),
    )


def effective_mode(analysis_mode: str, llm_configured: bool) -> str:
    """`cascade`, `llm` or `local`: what the setting means given whether an LLM is set up."""
    if not llm_configured or analysis_mode == "local":
        return "local"
    return "llm" if analysis_mode == "llm" else "cascade"


def analyze(
    subject: str,
    body: str,
    *,
    options: ProcessingOptions,
    llm: LLMAnalyzer | None,
    user_id: int | None = None,
    db: Session | None = None,
    context: CascadeContext | None = None,
) -> AnalysisOutcome:
    """Analyse one ticket. `context` (else `user_id`) selects the user's model and cascade
    settings (read through `db` when given, else from a short-lived per-process cache).
    Pass a context read beforehand to call the LLM with no transaction open."""
    context = context or cascade.context_for(user_id, db=db)
    planned = plan(subject, body, options=options, llm=llm, context=context)
    return complete(planned, options=options, llm=llm, context=context)


@dataclass(frozen=True)
class PlannedAnalysis:
    """A ticket's analysis up to its LLM call, which is all of its CPU work (the offline
    model when the mode needs it, the request with its PII redacted): either answered
    already or the request to send. Planned in one thread, completed in another."""

    subject: str
    body: str
    planning_s: float
    outcome: AnalysisOutcome | None = None
    request: LLMRequest | None = None
    offline: OfflineAnalysis | None = None
    basis: str = ""


def plan(
    subject: str,
    body: str,
    *,
    options: ProcessingOptions,
    llm: LLMAnalyzer | None,
    context: CascadeContext,
) -> PlannedAnalysis:
    """Decide the path of one ticket and do its work short of calling the LLM."""
    started = time.perf_counter()
    offline = context.analyzer
    mode = effective_mode(options.analysis_mode, llm is not None)
    result: OfflineAnalysis | None = None

    def local(reason: str, route: AnalysisRoute) -> PlannedAnalysis:
        outcome = _from_offline(
            result or offline.analyze(subject, body),
            model_version=offline.version,
            source=AnalysisSource.local,
            route=route,
            reason=reason,
            redact_summary=options.redact_pii,
        )
        planning_s = time.perf_counter() - started
        return PlannedAnalysis(subject, body, planning_s, outcome=outcome)

    if mode == "local":
        if llm is None:
            return local("no LLM configured", AnalysisRoute.no_llm)
        return local("mode=local", AnalysisRoute.mode_local)
    assert llm is not None
    if mode == "cascade":
        result = offline.analyze(subject, body)
        decision = cascade.decide(result, context.thresholds)
        if decision.local:
            return local(decision.reason, AnalysisRoute.confident)
        basis = decision.reason
    else:
        basis = "mode=llm"
    if context.use_llm_batch_api:
        result = result or offline.analyze(subject, body)
        if not cascade.is_urgent(result):
            return local(cascade.route(basis, cascade.BATCH_PENDING), AnalysisRoute.batch_pending)
    request = llm.build_request(subject, body)
    planning_s = time.perf_counter() - started
    return PlannedAnalysis(subject, body, planning_s, request=request, offline=result, basis=basis)


def complete(
    planned: PlannedAnalysis,
    *,
    options: ProcessingOptions,
    llm: LLMAnalyzer | None,
    context: CascadeContext,
    slot: float | LLMRateLimitedError | None = None,
) -> AnalysisOutcome:
    """The outcome of a planned analysis: its LLM call (at `slot`, reserved with
    `LLMAnalyzer.reserve`, else when the limiter allows), the offline model on any LLM
    failure. `duration_ms` counts the planning and this, not the time in between."""
    started = time.perf_counter()
    outcome = planned.outcome
    if outcome is None:
        assert llm is not None and planned.request is not None
        outcome = _ask_llm(
            planned, planned.request, options=options, llm=llm, context=context, slot=slot
        )
    duration_s = planned.planning_s + time.perf_counter() - started
    return replace(outcome, duration_ms=int(duration_s * 1000))


def _ask_llm(
    planned: PlannedAnalysis,
    request: LLMRequest,
    *,
    options: ProcessingOptions,
    llm: LLMAnalyzer,
    context: CascadeContext,
    slot: float | LLMRateLimitedError | None,
) -> AnalysisOutcome:
    reason = cascade.route(planned.basis, "→ llm")
    try:
        return from_llm(llm.send(request, slot), options, reason)
    except LLMError as exc:
        logger.warning("LLM analysis failed (%s); using the offline analyzer", exc.kind)
        offline = context.analyzer
        return _from_offline(
            planned.offline or offline.analyze(planned.subject, planned.body),
            model_version=offline.version,
            source=AnalysisSource.fallback,
            route=AnalysisRoute.llm_fallback,
            reason=cascade.route(planned.basis, f"→ llm {exc.kind} → offline"),
            redact_summary=options.redact_pii,
            llm_error=f"{exc.kind}: {exc}",
        )
