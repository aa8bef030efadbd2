"""Application factory: routers, middleware, exception handlers, lifespan.

`create_app(settings)` builds the API from the settings it is given (`create_app()` reads
the environment). It never mounts the sandbox: the embedded default does (app/embedded.py).
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.accounts.token_cache import TokenCache
from app.analytics.report_cache import ReportCache
from app.api import (
    admin,
    analytics,
    auth,
    cost,
    feedback,
    health,
    metrics,
    settings,
    tickets,
    webhooks,
)
from app.config import Settings, get_settings
from app.core.middleware import (
    BodySizeLimitMiddleware,
    ProxyHeadersMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
    request_id_var,
)
from app.core.observability import configure_logging
from app.core.rate_limit import LoginRateLimiter, ProcessingLimiter
from app.core.text_guard import UnstorableTextMiddleware
from app.errors import AppError
from app.integrations.factory import close_clients, configure_clients
from app.reads import async_read_engine, loop_session_factory
from app.schemas import ErrorResponse
from app.unit_of_work import celery_sender
from app.web import install_web

logger = logging.getLogger("app")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": details,
            "request_id": request_id_var.get(),
        }
    }
    return JSONResponse(body, status_code=status_code, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for error in exc.errors():
        details.append(
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
        )
    return details


# In this order: the first route that matches a request serves it.
ROUTERS = (
    health.router,
    auth.router,
    tickets.router,
    feedback.router,
    analytics.router,
    cost.router,
    settings.router,
    metrics.router,
    webhooks.router,
    admin.router,
)


def add_api_routes(app: FastAPI) -> None:
    """Every route of ROUTERS on the application's own router, in order.

    Since FastAPI 0.137, `include_router` keeps each router as a node that requests walk
    through: every request tries the routes of each router before its own, in two passes
    for the one that matches, and that walk cost more of a read than its database work.
    The routes are declared on the module routers (their prefix, tags and responses already
    merged into each route) and added here as `include_router` used to add them: one flat
    list, the same OpenAPI document (a test compares the two), and the application's
    dependency overrides apply to every route.
    """
    for router in ROUTERS:
        for route in router.routes:
            add_route(app, route)


def add_route(app: FastAPI, route: object) -> None:
    if not isinstance(route, APIRoute):
        raise TypeError(f"{route!r}: only API routes are added one at a time")
    app.router.add_api_route(
        route.path,
        route.endpoint,
        response_model=route.response_model,
        status_code=route.status_code,
        tags=route.tags,
        dependencies=route.dependencies,
        summary=route.summary,
        description=route.description,
        response_description=route.response_description,
        responses=route.responses,
        deprecated=route.deprecated,
        methods=route.methods,
        operation_id=route.operation_id,
        response_model_include=route.response_model_include,
        response_model_exclude=route.response_model_exclude,
        response_model_by_alias=route.response_model_by_alias,
        response_model_exclude_unset=route.response_model_exclude_unset,
        response_model_exclude_defaults=route.response_model_exclude_defaults,
        response_model_exclude_none=route.response_model_exclude_none,
        include_in_schema=route.include_in_schema,
        response_class=route.response_class,
        name=route.name,
        callbacks=route.callbacks,
        openapi_extra=route.openapi_extra,
        generate_unique_id_function=route.generate_unique_id_function,
        strict_content_type=route.strict_content_type,
        max_body_size=route.max_body_size,
        form_limits=route.form_limits,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        if exc.status_code >= 500:
            logger.warning("%s: %s", exc.code, exc.message)
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(part for part in first["loc"] if part not in ("body", "query", "path"))
        message = f"{where}: {first['msg']}" if where else first["msg"]
        return error_response(422, "validation_error", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # Bytes that are not UTF-8 are a malformed body, like malformed JSON: a 422.
            message = "body: not valid UTF-8"
            return error_response(422, "validation_error", message)
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return error_response(
            exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(SQLAlchemyError)
    async def _database_error(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        if is_database_unavailable(exc):
            logger.warning("database unavailable: %s", type(exc).__name__)
            return error_response(
                503,
                "service_unavailable",
                "The database is unavailable; try again shortly",
                headers={"Retry-After": "5"},
            )
        logger.error("database error", exc_info=exc)
        return error_response(500, "internal_error", "Internal server error")


def is_database_unavailable(exc: SQLAlchemyError) -> bool:
    """Lost or refused connections, an exhausted pool: worth retrying, not a bug."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def document_error_responses(app: FastAPI) -> None:
    """OpenAPI tells the truth about errors: validation errors (422) have the one error
    shape, any request body may be refused as too large (413) or unparsable (400) and
    anything that needs the database may answer 503 while it is down."""
    generate = app.openapi
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in error_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault("ErrorResponse", error_schema)
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {
                        "description": responses["422"].get("description") or "Validation Error",
                        "content": error_content,
                    }
                if "requestBody" in operation:
                    responses.setdefault(
                        "413", {"description": "Request body too large", "content": error_content}
                    )
                    unparsable = "The body could not be parsed"
                    if "400" in responses:
                        if unparsable not in responses["400"]["description"]:
                            responses["400"]["description"] += f"; or: {unparsable.lower()}"
                    else:
                        responses["400"] = {"description": unparsable, "content": error_content}
                if path not in NO_DATABASE_PATHS:
                    responses.setdefault(
                        "503", {"description": "Database unavailable", "content": error_content}
                    )
        text = json.dumps(schema)
        for name in ("HTTPValidationError", "ValidationError"):
            if f'"#/components/schemas/{name}"' not in text:
                components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


NO_DATABASE_PATHS = frozenset({"/health", "/metrics"})


_startup_heap_frozen = False


def freeze_startup_heap() -> None:
    """Put the objects alive once the API has started (modules, the app's routes and
    models, the ORM's mappers: some 200,000) out of the cyclic collector's reach, once per
    process. Each full collection walked them all (about 100 ms) and under load ran every
    few seconds: 4 to 8 % of an API process's CPU went to the collector. They live as long
    as the process; reference counting still frees what is released."""
    global _startup_heap_frozen
    if not _startup_heap_frozen:
        _startup_heap_frozen = True
        gc.collect()
        gc.freeze()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Size the upstream client caches at start-up and open the read routes' async engine
    (PostgreSQL: `app.reads`); close their pooled clients and connections at shutdown."""
    configure_clients(app.state.settings)
    freeze_startup_heap()
    read_engine = async_read_engine(app.state.settings.database_url)
    if read_engine is not None:
        app.state.loop_reads = loop_session_factory(read_engine)
    try:
        yield
    finally:
        close_clients()
        if read_engine is not None:
            app.state.loop_reads = None
            await read_engine.dispose()


# Every tag a route uses, in the order the documentation lists them (a test checks each has
# a description).
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": "auth",
        "description": "Accounts and tokens: register, log in (OAuth2 password form, a bearer "
        "token lasting an hour), change the password (older tokens stop working), delete the "
        "account and its data.",
    },
    {
        "name": "tickets",
        "description": "Analyse Zendesk tickets one at a time (`POST /tickets/process`, "
        "synchronous) or up to 100 in a background job (`POST /tickets/process-batch`), list "
        "the stored results, and correct an analysis with feedback (which trains your "
        "offline model).",
    },
    {
        "name": "settings",
        "description": "Your profile and integrations: the Zendesk account, the OpenAI key and "
        "model, what is written back, the cascade; secrets are write-only and shown masked. "
        "Connection tests report the upstream's answer.",
    },
    {
        "name": "analytics",
        "description": "Reports over your analysed tickets in your time zone: the dashboard, "
        "trends, distributions, what the LLM cost and a CSV export.",
    },
    {
        "name": "webhooks",
        "description": "Zendesk webhook deliveries (signed with your webhook secret): each "
        "event becomes a background job.",
    },
    {
        "name": "admin",
        "description": "For accounts whose role is `admin` (others get 403): list every "
        "account with its role, state and ticket count; promote, demote, disable (its tokens "
        "stop working, its logins are refused) or enable an account; delete an account and its "
        "data. The last active admin can be neither demoted, disabled nor deleted (409). "
        "Make the first admin with `triage create-user --admin` or `triage set-role`.",
    },
    {"name": "health", "description": "Liveness and readiness for load balancers and Compose."},
    {"name": "ops", "description": "Operational endpoints such as Prometheus metrics."},
]


def init_state(app: FastAPI, config: Settings) -> None:
    """The app's state for `config`, new: its settings, limiters, caches and job sender
    (`create_app` calls it; the tests call it again to reuse an app built for the same
    settings, since building the routes is most of the cost of an app)."""
    app.state.settings = config
    app.state.login_limiter = LoginRateLimiter(
        config.login_attempts_per_minute,
        address_limit=config.login_attempts_per_address_per_minute,
        redis_url=config.redis_url,
    )
    app.state.token_cache = TokenCache(config.auth_cache_seconds)
    app.state.job_sender = celery_sender
    app.state.report_cache = ReportCache(config.report_cache_seconds)
    app.state.loop_reads = None  # the read routes' async sessions, opened by the lifespan
    app.state.processing_limiter = ProcessingLimiter(
        config.processing_concurrency_per_user, config.processing_concurrency_total
    )


def create_app(config: Settings | None = None) -> FastAPI:
    """The API configured by `config` (default: the settings read from the environment)."""
    config = config or get_settings()
    app = FastAPI(
        lifespan=lifespan,
        title="Ticket Triage",
        version="0.1.0",
        description=(
            "Classifies Zendesk tickets (category, urgency, sentiment, summary) and writes "
            "tags and an internal note back. Authorize with POST /auth/login."
        ),
        openapi_tags=OPENAPI_TAGS,
    )
    configure_logging(config.log_level)
    install_error_handlers(app)
    init_state(app, config)
    # Outermost last: security headers, proxy headers, request id + access log, CORS, body
    # limit, unstorable text.
    app.add_middleware(UnstorableTextMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=config.max_request_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=config.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "Location", "Retry-After"],
    )
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(ProxyHeadersMiddleware, trusted=config.forwarded_allow_ips)
    app.add_middleware(SecurityHeadersMiddleware, hsts=config.env == "production")
    document_error_responses(app)
    add_api_routes(app)
    install_web(app)  # the dashboard at /app, offline /docs and /redoc
    return app
