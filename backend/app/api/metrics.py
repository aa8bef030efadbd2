"""Prometheus metrics in the text exposition format.

Not authenticated, like most scrape targets: it exposes counts and latencies, never user
data. Keep it off the public network (reverse-proxy rule) where that matters.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import SettingsDep
from app.observability import METRICS_CONTENT_TYPE, render_metrics

router = APIRouter(tags=["ops"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(settings: SettingsDep) -> Response:
    """Request counts and latencies per route, tickets processed, LLM tokens and cost,
    upstream errors, batch job durations and the queue depth."""
    return Response(render_metrics(settings.redis_url), media_type=METRICS_CONTENT_TYPE)
