"""Prometheus metrics in the text exposition format.

It exposes counts and latencies, never user data. Outside production it is open, like most
scrape targets; in production the API's port answers it only to `Authorization: Bearer
<METRICS_TOKEN>` (404 otherwise), and the metrics port of its own (`python -m
app.core.observability`, compose's `metrics` service) serves it on the internal network.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response

from app.api.deps import SettingsDep
from app.core.observability import METRICS_CONTENT_TYPE, render_metrics
from app.errors import NotFound

router = APIRouter(tags=["ops"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request, settings: SettingsDep) -> Response:
    """Request counts and latencies per route, tickets processed, LLM tokens and cost,
    upstream errors, batch job durations and the queue depth."""
    if settings.env == "production" or settings.metrics_token:
        supplied = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not settings.metrics_token or not hmac.compare_digest(
            supplied.encode(), settings.metrics_token.encode()
        ):
            raise NotFound("Not found")
    return Response(render_metrics(settings.redis_url), media_type=METRICS_CONTENT_TYPE)
