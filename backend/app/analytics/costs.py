"""What the analyses of a period cost by path, and what sending everything to the LLM would
have cost; aggregated in SQL."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import integrations
from app.analytics.reports import Window
from app.enums import AnalysisRoute, AnalysisSource
from app.integrations.llm import (
    CHARS_PER_TOKEN,
    SYSTEM_PROMPT,
    response_format_schema,
)
from app.integrations.llm import pricing as llm_pricing
from app.models import Ticket, TicketAnalysis

MONEY_QUANTUM = Decimal("0.000001")
PATHS = (AnalysisSource.local, AnalysisSource.llm, AnalysisSource.fallback, AnalysisSource.batch)
ESTIMATED_OUTPUT_TOKENS = 150
"""A JSON answer with a summary and a short reply draft (approximate)."""
ESTIMATED_INSTRUCTION_CHARS = 250
MAX_TICKET_INPUT_TOKENS = 2000
"""LLMAnalyzer's default budget: longer tickets are cut to it."""
CACHE_MIN_TOKENS = 1024


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(MONEY_QUANTUM)


def _per_ticket(total: Decimal, tickets: int) -> Decimal | None:
    return (total / tickets).quantize(MONEY_QUANTUM) if tickets else None


def _in_window(window: Window) -> list[Any]:
    return [
        TicketAnalysis.user_id == window.user_id,
        TicketAnalysis.created_at >= window.start,
        TicketAnalysis.created_at < window.end,
    ]


def _observed_llm_cost(db: Session, window: Window) -> Decimal | None:
    """Average cost of a synchronous LLM analysis: this period, else all of the user's."""
    for conditions in (_in_window(window), [TicketAnalysis.user_id == window.user_id]):
        count, total = db.execute(
            select(func.count(), func.coalesce(func.sum(TicketAnalysis.cost_usd), 0)).where(
                *conditions, TicketAnalysis.source == AnalysisSource.llm
            )
        ).one()
        if count:
            return _per_ticket(_money(total), int(count))
    return None


def _estimated_llm_cost(db: Session, window: Window) -> Decimal | None:
    """Prompt ~ (fixed prefix + average ticket text) / 4 tokens at the configured model's
    list price; the prefix is billed at the cached rate when it reaches 1,024 tokens."""
    average_chars = db.scalar(
        select(func.avg(func.length(Ticket.subject) + func.length(Ticket.description))).where(
            Ticket.id.in_(select(TicketAnalysis.ticket_id).where(*_in_window(window)))
        )
    )
    if average_chars is None:
        return None
    row = integrations.get_row(db=db, user_id=window.user_id)
    model = row.openai_model if row else "gpt-4o-mini"
    prefix_chars = len(SYSTEM_PROMPT) + len(json.dumps(response_format_schema()))
    prefix_tokens = math.ceil((prefix_chars + ESTIMATED_INSTRUCTION_CHARS) / CHARS_PER_TOKEN)
    ticket_tokens = min(MAX_TICKET_INPUT_TOKENS, math.ceil(float(average_chars) / CHARS_PER_TOKEN))
    cached = prefix_tokens if prefix_tokens >= CACHE_MIN_TOKENS else 0
    cost = llm_pricing.cost_usd(
        model, prefix_tokens + ticket_tokens, cached, ESTIMATED_OUTPUT_TOKENS
    )
    return cost.quantize(MONEY_QUANTUM) if cost else None


def cost_report(*, db: Session, window: Window) -> dict[str, Any]:
    """Cost per path, LLM calls avoided and savings against sending every ticket to the LLM."""
    rows = db.execute(
        select(
            TicketAnalysis.source,
            func.count(),
            func.coalesce(func.sum(TicketAnalysis.cost_usd), 0),
            func.coalesce(func.sum(TicketAnalysis.input_tokens), 0),
            func.coalesce(func.sum(TicketAnalysis.cached_input_tokens), 0),
            func.coalesce(func.sum(TicketAnalysis.output_tokens), 0),
        )
        .where(*_in_window(window))
        .group_by(TicketAnalysis.source)
    ).all()
    found = {AnalysisSource(source): row for source, *row in rows}
    by_path = []
    for source in PATHS:
        count, total, input_tokens, cached, output = found.get(source, (0, 0, 0, 0, 0))
        by_path.append(
            {
                "source": source,
                "tickets": int(count),
                "total_cost_usd": _money(total),
                "cost_per_ticket_usd": _per_ticket(_money(total), int(count)),
                "input_tokens": int(input_tokens),
                "cached_input_tokens": int(cached),
                "output_tokens": int(output),
            }
        )
    tickets = sum(path["tickets"] for path in by_path)
    total_cost = sum((path["total_cost_usd"] for path in by_path), Decimal(0))
    avoided, pending = db.execute(
        select(
            func.count().filter(
                TicketAnalysis.route.in_((AnalysisRoute.confident, AnalysisRoute.mode_local))
            ),
            func.count().filter(TicketAnalysis.route == AnalysisRoute.batch_pending),
        ).where(*_in_window(window))
    ).one()

    per_ticket = _observed_llm_cost(db, window)
    basis = "observed" if per_ticket is not None else None
    if per_ticket is None:
        per_ticket = _estimated_llm_cost(db, window)
        basis = "estimated" if per_ticket is not None else None
    all_llm = (per_ticket * tickets).quantize(MONEY_QUANTUM) if per_ticket is not None else None
    savings = (all_llm - total_cost).quantize(MONEY_QUANTUM) if all_llm is not None else None
    return {
        "period": window.period(),
        "tickets": tickets,
        "total_cost_usd": total_cost.quantize(MONEY_QUANTUM),
        "cost_per_ticket_usd": _per_ticket(total_cost, tickets),
        "by_path": by_path,
        "llm_calls_avoided": int(avoided),
        "llm_batch_pending": int(pending),
        "all_llm_cost_per_ticket_usd": per_ticket,
        "all_llm_basis": basis,
        "all_llm_cost_usd": all_llm,
        "estimated_savings_usd": savings,
        "savings_percentage": (
            round(float(savings / all_llm) * 100, 1) if all_llm and savings is not None else None
        ),
    }
