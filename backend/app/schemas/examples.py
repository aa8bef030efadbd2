"""Examples shown in the OpenAPI document for the main request and response bodies.

Each is a valid instance of its model (tests/api/test_openapi_docs.py validates them), so
the examples cannot drift from the contract unnoticed.
"""

from __future__ import annotations

from typing import Any

Example = dict[str, Any]

CREATED_AT = "2026-03-02T09:15:04Z"
ANALYSED_AT = "2026-03-02T09:15:06Z"

USER_CREATE: Example = {
    "email": "agent@example.com",
    "password": "s3cret-pass",
    "full_name": "Ada Agent",
}
PASSWORD_CHANGE: Example = {"current_password": "s3cret-pass", "new_password": "n3w-s3cret-pass"}
ACCOUNT_DELETION: Example = {"confirm": "agent@example.com", "password": "s3cret-pass"}
TOKEN: Example = {
    "access_token": "eyJhbGciOiJIUzI1NiIs…",
    "token_type": "bearer",
    "expires_in": 3600,
}

PROCESS_REQUEST: Example = {"ticket_id": 1042}
BATCH_REQUEST: Example = {"ticket_ids": [1042, 1043, 1044]}

ANALYSIS: Example = {
    "category": "billing",
    "urgency": "high",
    "sentiment": "negative",
    "confidence": 0.91,
    "category_confidence": 0.94,
    "urgency_confidence": 0.88,
    "sentiment_confidence": 0.9,
    "language": "en",
    "summary": "Customer was charged twice for the March invoice and asks for a refund.",
    "reply_draft": "Sorry about the double charge; we have started the refund of the second one.",
    "suggested_tags": ["double_charge", "refund"],
    "source": "local",
    "decision_reason": "offline model confident (0.91 >= 0.90)",
    "model": None,
    "input_tokens": 0,
    "cached_input_tokens": 0,
    "output_tokens": 0,
    "cost_usd": "0",
    "processing_time_ms": 38,
    "pii_redactions": {"email": 1},
    "tags_written": ["triage_billing", "triage_urgency_high", "triage_sentiment_negative"],
    "written_back_at": ANALYSED_AT,
    "feedback_category": None,
    "feedback_urgency": None,
    "feedback_sentiment": None,
    "created_at": ANALYSED_AT,
    "updated_at": ANALYSED_AT,
}
TICKET: Example = {
    "id": 7,
    "zendesk_ticket_id": 1042,
    "subject": "Charged twice for March",
    "status": "open",
    "priority": "high",
    "tags": ["billing"],
    "zendesk_created_at": "2026-03-02T08:50:00Z",
    "zendesk_updated_at": "2026-03-02T09:15:06Z",
    "created_at": CREATED_AT,
    "updated_at": ANALYSED_AT,
}
PROCESS_RESPONSE: Example = {
    "ticket": TICKET,
    "analysis": ANALYSIS,
    "write_back_status": "written",
    "write_back_error": None,
}
TICKET_PAGE: Example = {
    "items": [{**TICKET, "analysis": ANALYSIS}],
    "total": 1,
    "page": 1,
    "page_size": 25,
    "total_is_exact": True,
}
JOB: Example = {
    "id": "3f6c1e9a-0b7d-4c55-9a47-2f1d8e6b0c12",
    "state": "running",
    "origin": "api",
    "progress": {"done": 1, "failed": 0, "total": 3},
    "error": None,
    "created_at": CREATED_AT,
    "started_at": "2026-03-02T09:15:05Z",
    "finished_at": None,
    "items": [
        {
            "ticket_id": 1042,
            "status": "done",
            "result": {
                "category": "billing",
                "urgency": "high",
                "sentiment": "negative",
                "source": "local",
                "summary": "Customer was charged twice for the March invoice.",
            },
            "write_back": "written",
            "error": None,
            "finished_at": ANALYSED_AT,
        },
        {
            "ticket_id": 1043,
            "status": "pending",
            "result": None,
            "write_back": None,
            "error": None,
            "finished_at": None,
        },
    ],
}

FEEDBACK_IN: Example = {"category": "bug", "urgency": "medium"}
FEEDBACK_OUT: Example = {
    "zendesk_ticket_id": 1042,
    "category": "billing",
    "urgency": "high",
    "sentiment": "negative",
    "feedback_category": "bug",
    "feedback_urgency": "medium",
    "feedback_sentiment": None,
    "feedback_at": "2026-03-02T10:01:00Z",
}

SETTINGS_UPDATE: Example = {
    "zendesk_url": "acme",
    "zendesk_email": "agent@acme.com",
    "zendesk_api_token": "zd-api-token",
    "openai_api_key": "sk-proj-abcdefghijklmnopqrstuvwxyz",
    "openai_model": "gpt-4.1-mini",
    "analysis_mode": "cascade",
    "write_note": True,
}


def _unset() -> Example:
    return {"is_set": False, "masked": None}


SETTINGS_OUT: Example = {
    "profile": {"email": "agent@acme.com", "full_name": "Ada Agent", "timezone": "Europe/Berlin"},
    "integration": {
        "zendesk_url": "https://acme.zendesk.com",
        "zendesk_email": "agent@acme.com",
        "zendesk_api_token": {"is_set": True, "masked": "…oken"},
        "zendesk_webhook_secret": _unset(),
        "webhook_url": "https://triage.example.com/webhooks/zendesk/42",
        "sandbox_in_use": False,
        "openai_api_key": {"is_set": True, "masked": "sk-…wxyz"},
        "openai_model": "gpt-4.1-mini",
        "openai_model_shutdown_date": None,
        "openai_base_url": None,
        "analysis_mode": "cascade",
        "write_tags": True,
        "write_note": True,
        "reply_draft": True,
        "redact_pii": True,
        "tag_prefix": "triage_",
        "polling_enabled": False,
        "polling_interval_s": 300,
    },
    "cascade": {"target_precision": 0.9, "learn_from_llm": True, "use_llm_batch_api": False},
    "warnings": [],
}


def _distribution(counts: dict[str, int]) -> Example:
    total = sum(counts.values())
    return {
        "total": total,
        "items": [
            {"label": label, "count": count, "percentage": round(100 * count / total, 1)}
            for label, count in counts.items()
        ],
    }


def _field_accuracy(rated: int, correct: int) -> Example:
    return {"rated": rated, "correct": correct, "accuracy": round(correct / rated, 3)}


DASHBOARD: Example = {
    "period": {
        "start": "2026-02-24T00:00:00+01:00",
        "end": "2026-03-02T23:59:59+01:00",
        "timezone": "Europe/Berlin",
    },
    "processed": {"today": 4, "this_week": 20, "this_month": 4},
    "tickets": 20,
    "average_processing_time_ms": 412.5,
    "total_cost_usd": "0.0123",
    "average_cost_usd": "0.000615",
    "categories": _distribution({"bug": 6, "feature": 3, "billing": 5, "support": 5, "other": 1}),
    "urgencies": _distribution({"low": 7, "medium": 9, "high": 4}),
    "sentiments": _distribution({"positive": 3, "neutral": 10, "negative": 7}),
    "sources": _distribution({"llm": 8, "local": 12, "fallback": 0, "batch": 0}),
    "daily_trend": [
        {
            "period_start": "2026-03-02",
            "tickets": 4,
            "total_cost_usd": "0.0021",
            "average_processing_time_ms": 380.0,
        }
    ],
    "accuracy": {
        "rated_tickets": 5,
        "category": _field_accuracy(5, 4),
        "urgency": _field_accuracy(4, 3),
        "sentiment": _field_accuracy(2, 2),
    },
    "recent_tickets": [
        {
            "zendesk_ticket_id": 1042,
            "subject": "Charged twice for March",
            "category": "billing",
            "urgency": "high",
            "sentiment": "negative",
            "confidence": 0.91,
            "source": "local",
            "summary": "Customer was charged twice for the March invoice and asks for a refund.",
            "analysed_at": ANALYSED_AT,
        }
    ],
}
