"""Prometheus metrics and JSON logs.

Metrics: HTTP requests per route template, tickets analysed, LLM tokens and cost, upstream
errors, batch job durations and, when Redis is the broker, the queue depth. With
`PROMETHEUS_MULTIPROC_DIR` set (before start) the API workers and Celery workers write to
that directory and `/metrics` adds them all up. The directory may be shared by several
hosts (the API and worker containers of docker compose): each process's files are named
after its host as well as its pid, since pids repeat from one container to the next.

Logs: one JSON object per line (time, level, logger, message, request_id and the record's
extras). Callers log ids, counts and durations, never secrets, tokens or ticket text.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import values as metric_values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from collections.abc import Iterator

    from app.pipeline.analysis import AnalysisOutcome

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
CELERY_QUEUE = "celery"
# kombu's Redis transport keeps one list per priority step: "celery", "celery\x06\x163", ...
_QUEUE_KEYS = [CELERY_QUEUE, *(f"{CELERY_QUEUE}\x06\x16{step}" for step in (3, 6, 9))]
UNMATCHED_ROUTE = "unmatched"

# --- metrics -------------------------------------------------------------------------------


def metrics_process_id() -> str:
    """This process's name in the multiprocess directory: host and pid ("_" separates fields)."""
    return f"{socket.gethostname().replace('_', '-')}-{os.getpid()}"


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Before any metric exists: each one's value files are opened when it is created.
    metric_values.ValueClass = metric_values.MultiProcessValue(metrics_process_id)

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests by route template", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
TICKETS_PROCESSED = Counter(
    "triage_tickets_processed_total",
    "Tickets analysed, by analysis source and category",
    ["source", "category"],
)
LLM_TOKENS = Counter("triage_llm_tokens_total", "LLM tokens by model and kind", ["model", "kind"])
LLM_COST = Counter("triage_llm_cost_usd_total", "LLM cost in US dollars by model", ["model"])
UPSTREAM_ERRORS = Counter(
    "triage_upstream_errors_total",
    "Failed upstream calls (each attempt), by upstream and kind",
    ["upstream", "kind"],
)
JOB_DURATION = Histogram(
    "triage_batch_job_duration_seconds",
    "Batch job duration from start to finish, by final state",
    ["state"],
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)


def route_template(scope: dict[str, Any]) -> str:
    """The matched route's template (`/tickets/{ticket_id}`), never the raw path."""
    route = scope.get("route")
    template = route if isinstance(route, str) else getattr(route, "path", None)
    if not template and "endpoint" in scope and not scope.get("path_params"):
        template = scope["path"]  # a plain Starlette route (/docs): its path is its template
    if not template:
        return UNMATCHED_ROUTE
    return f"{scope.get('root_path', '')}{template}"


def observe_request(method: str, route: str, status: int, duration_s: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(duration_s)


def record_analysis(outcome: AnalysisOutcome) -> None:
    """One analysed ticket: its source and category, tokens, cost and any LLM failure."""
    TICKETS_PROCESSED.labels(outcome.source.value, outcome.category.value).inc()
    if outcome.llm_error:
        UPSTREAM_ERRORS.labels("llm", outcome.llm_error.split(":", 1)[0]).inc()
    if outcome.input_tokens or outcome.output_tokens:
        model = outcome.model or "unknown"
        LLM_TOKENS.labels(model, "input").inc(outcome.input_tokens)
        LLM_TOKENS.labels(model, "cached_input").inc(outcome.cached_input_tokens)
        LLM_TOKENS.labels(model, "output").inc(outcome.output_tokens)
        LLM_COST.labels(model).inc(float(Decimal(outcome.cost_usd)))


def upstream_error(upstream: str, kind: str) -> None:
    UPSTREAM_ERRORS.labels(upstream, kind).inc()


def http_error_kind(status: int) -> str:
    """A small fixed set of labels for an upstream's HTTP error status."""
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    return "client_error"


def transport_error_kind(exc: BaseException) -> str:
    return "timeout" if "Timeout" in type(exc).__name__ else "connection"


def record_job_finished(
    state: str, started_at: datetime | None, finished_at: datetime | None
) -> None:
    if started_at is None or finished_at is None:
        return
    started_at, finished_at = (
        moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        for moment in (started_at, finished_at)
    )
    JOB_DURATION.labels(state).observe(max(0.0, (finished_at - started_at).total_seconds()))


class QueueDepthCollector(Collector):
    """Length of the Celery queue in Redis, read at scrape time; absent if Redis is down."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            client = _redis_client(self.redis_url)
            pipeline = client.pipeline(transaction=False)
            for key in _QUEUE_KEYS:
                pipeline.llen(key)
            depth = sum(int(length) for length in pipeline.execute())
        except Exception as exc:
            logging.getLogger(__name__).warning("queue depth unavailable: %s", type(exc).__name__)
            return
        gauge = GaugeMetricFamily(
            "triage_queue_depth", "Tasks waiting in the Celery queue", labels=["queue"]
        )
        gauge.add_metric([CELERY_QUEUE], depth)
        yield gauge


_redis_clients: dict[str, Any] = {}
_redis_lock = threading.Lock()


def _redis_client(url: str) -> Any:
    import redis

    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            _redis_clients[url] = client
        return client


def render_metrics(redis_url: str | None) -> bytes:
    """The Prometheus text exposition of this process (or of all processes, multiprocess)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        output = generate_latest(registry)
    else:
        output = generate_latest(REGISTRY)
    if redis_url:
        queue_registry = CollectorRegistry()
        queue_registry.register(QueueDepthCollector(redis_url))
        output += generate_latest(queue_registry)
    return output


# --- logs ----------------------------------------------------------------------------------

_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the request id of the current request is always there."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current sys.stderr (test runners swap it) unless given a stream."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream or sys.stderr)
        self._fixed_stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        if self._fixed_stream is None:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """JSON lines on stderr for the root logger; idempotent, other handlers are kept."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_triage_json", False)), None)
    if handler is None:
        handler = _StderrHandler(stream)
        handler._triage_json = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter())
    root.setLevel(level.upper())
    # Uvicorn's own lines go through the JSON handler; our access log replaces uvicorn's.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    # Per-call lines of the HTTP clients carry URLs (search queries): keep them out of INFO.
    for name in ("httpx", "httpx2", "httpcore", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def configure_worker_logging(**_signal_kwargs: Any) -> None:
    """Celery `setup_logging` receiver: the worker logs JSON lines like the API."""
    from app.config import get_settings

    configure_logging(get_settings().log_level)


access_logger = logging.getLogger("app.access")


def log_access(method: str, route: str, status: int, duration_s: float) -> None:
    duration_ms = round(duration_s * 1000, 1)
    access_logger.info(
        "%s %s %s %.1fms",
        method,
        route,
        status,
        duration_ms,
        extra={"method": method, "route": route, "status": status, "duration_ms": duration_ms},
    )
