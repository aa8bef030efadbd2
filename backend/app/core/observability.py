"""Prometheus metrics and JSON logs.

Metrics: HTTP requests per route template, tickets analysed, LLM tokens and cost, upstream
errors, batch job durations and, when Redis is the broker, the queue depth. With
`PROMETHEUS_MULTIPROC_DIR` set (before start) the API workers and Celery workers write to
that directory and `/metrics` adds them all up. The directory may be shared by several
hosts (the API and worker containers of docker compose), whose pids repeat from one
container to the next: each host writes in a subdirectory of its own (prometheus_client's
public multiprocess mode names files by pid), and `/metrics` merges every host's files.
`python -m app.core.observability --port 9100` serves the same sum on a port of its own.

Logs: one JSON object per line (time, level, logger, message, request_id and the record's
extras). Callers log ids, counts and durations, never secrets, tokens or ticket text.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import threading
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

HOST_DIRECTORY_PREFIX = "host-"
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def _metrics_root_and_own_directory() -> tuple[Path, Path] | None:
    """The shared multiprocess directory and this host's subdirectory of it (None: not in
    multiprocess mode). Processes started by this one inherit the subdirectory."""
    configured = os.environ.get(MULTIPROC_VARIABLE)
    if not configured:
        return None
    directory = Path(configured)
    if directory.name.startswith(HOST_DIRECTORY_PREFIX):
        return directory.parent, directory
    host = socket.gethostname().replace(os.sep, "-")
    return directory, directory / f"{HOST_DIRECTORY_PREFIX}{host}"


_multiprocess = _metrics_root_and_own_directory()
if _multiprocess is not None:
    # Before prometheus_client opens any value file (it reads the variable per metric).
    _multiprocess[1].mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_VARIABLE] = str(_multiprocess[1])

from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
CELERY_QUEUE = "celery"
# kombu's Redis transport keeps one list per priority step: "celery", "celery\x06\x163", ...
_QUEUE_KEYS = [CELERY_QUEUE, *(f"{CELERY_QUEUE}\x06\x16{step}" for step in (3, 6, 9))]
UNMATCHED_ROUTE = "unmatched"

# --- metrics -------------------------------------------------------------------------------


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


class AnalysisFigures(Protocol):
    """What the metrics read of an analysis outcome (the pipeline's AnalysisOutcome)."""

    source: Any
    category: Any
    llm_error: str | None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    model: str | None
    cost_usd: Any


def record_analysis(outcome: AnalysisFigures) -> None:
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


class AllHostsCollector(Collector):
    """Every process's values on every host sharing the multiprocess directory, added up."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def collect(self) -> Iterator[Any]:
        files = sorted(str(path) for path in self.root.glob("**/*.db"))
        return iter(MultiProcessCollector.merge(files, accumulate=True))


def render_metrics(redis_url: str | None) -> bytes:
    """The Prometheus text exposition of this process (or of all processes, multiprocess)."""
    if _multiprocess is not None:
        registry = CollectorRegistry()
        registry.register(AllHostsCollector(_multiprocess[0]))
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


# --- a metrics port of its own ---------------------------------------------------------------


def serve_metrics(host: str, port: int, redis_url: str | None) -> None:
    """Serve `/metrics` (the sum of every process) on its own port, away from the API's."""

    class MetricsHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] not in ("/", "/metrics"):
                self.send_error(404)
                return
            body = render_metrics(redis_url)
            self.send_response(200)
            self.send_header("Content-Type", METRICS_CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    ThreadingHTTPServer((host, port), MetricsHandler).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=serve_metrics.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    arguments = parser.parse_args()
    if _multiprocess is None:
        parser.error(f"{MULTIPROC_VARIABLE} must name the directory the processes write to")
    from app.config import get_settings

    serve_metrics(arguments.host, arguments.port, get_settings().redis_url)


if __name__ == "__main__":
    main()
