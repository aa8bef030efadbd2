"""Choose the analyzer for a ticket and return one outcome shape, whichever path answered.

`auto` uses the LLM when a key is configured and the offline model otherwise; `llm` always
asks the LLM; `local` never does. Any LLM failure falls back to the offline model with the
cause recorded (source=fallback).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal

from app.config import get_settings
from app.enums import AnalysisSource, Category, Sentiment, Urgency
from app.services import llm_pricing
from app.services.integrations import LLMTarget, ProcessingOptions
from app.services.offline_analyzer import OfflineAnalysis, get_offline_analyzer
from app.services.openai_service import LLMAnalyzer, LLMError, LLMResult
from app.services.pii import redact

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
    model: str | None = None
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal("0")
    pii_redactions: dict[str, int] = field(default_factory=dict)
    llm_error: str | None = None
    duration_ms: int = 0


def build_llm_analyzer(target: LLMTarget, options: ProcessingOptions) -> LLMAnalyzer:
    settings = get_settings()
    return LLMAnalyzer(
        api_key=target.api_key,
        model=target.model,
        base_url=target.base_url,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        redact_pii=options.redact_pii,
        reply_draft=options.reply_draft,
        prices=llm_pricing.load_prices(settings.llm_prices_json),
    )


def _from_offline(
    result: OfflineAnalysis,
    *,
    source: AnalysisSource,
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
        decision_reason=reason,
        model=f"offline-{get_offline_analyzer().version}",
        pii_redactions=counts,
        llm_error=llm_error,
    )


def _from_llm(result: LLMResult, options: ProcessingOptions) -> AnalysisOutcome:
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
        source=AnalysisSource.llm,
        decision_reason="llm",
        model=result.model,
        input_tokens=result.input_tokens,
        cached_input_tokens=result.cached_input_tokens,
        output_tokens=result.output_tokens,
        cost_usd=result.cost_usd,
        pii_redactions=dict(result.redaction_counts),
    )


def analyze(
    subject: str,
    body: str,
    *,
    options: ProcessingOptions,
    llm: LLMAnalyzer | None,
) -> AnalysisOutcome:
    started = time.perf_counter()
    outcome = _analyze(subject, body, options=options, llm=llm)
    duration_ms = int((time.perf_counter() - started) * 1000)
    return _with_duration(outcome, duration_ms)


def _with_duration(outcome: AnalysisOutcome, duration_ms: int) -> AnalysisOutcome:
    from dataclasses import replace

    return replace(outcome, duration_ms=duration_ms)


def _analyze(
    subject: str, body: str, *, options: ProcessingOptions, llm: LLMAnalyzer | None
) -> AnalysisOutcome:
    offline = get_offline_analyzer()
    use_llm = llm is not None and options.analysis_mode != "local"
    if not use_llm:
        reason = "no LLM configured" if llm is None else "mode=local"
        return _from_offline(
            offline.analyze(subject, body),
            source=AnalysisSource.local,
            reason=reason,
            redact_summary=options.redact_pii,
        )
    assert llm is not None
    try:
        return _from_llm(llm.analyze(subject, body), options)
    except LLMError as exc:
        logger.warning("LLM analysis failed (%s); using the offline analyzer", exc.kind)
        return _from_offline(
            offline.analyze(subject, body),
            source=AnalysisSource.fallback,
            reason=f"llm {exc.kind}",
            redact_summary=options.redact_pii,
            llm_error=f"{exc.kind}: {exc}",
        )
