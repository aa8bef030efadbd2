"""ASGI middleware: request ids with the access log and metrics, the request body limit and
security headers, and the last-resort 500 that carries the request id."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
import uuid
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.observability import log_access, observe_request, request_id_var, route_template

__all__ = [
    "BodySizeLimitMiddleware",
    "ProxyHeadersMiddleware",
    "RequestBodyTooLarge",
    "RequestIdMiddleware",
    "SecurityHeadersMiddleware",
    "request_id_var",
]

logger = logging.getLogger("app")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def error_messages(
    status: int,
    code: str,
    message: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[Message, Message]:
    """The ASGI start and body messages of a response in the one error shape."""
    body = json.dumps(
        {
            "error": {
                "code": code,
                "message": message,
                "details": None,
                "request_id": request_id_var.get(),
            }
        }
    ).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *(extra_headers or []),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class RequestIdMiddleware:
    """Accept a sane `X-Request-ID` or make one; expose it to logs and echo it back.

    Every request ends with one access log line and its metrics (labelled by route
    template). An exception that escapes the app is logged with the id and answered with a
    JSON 500 that reveals nothing of the internals.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        response_started = False
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal response_started, status
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error (request_id=%s)", request_id)
            if response_started:
                raise
            status = 500
            start, body = error_messages(
                500, "internal_error", "Internal server error", [id_header]
            )
            await send(start)
            await send(body)
        finally:
            duration_s = time.perf_counter() - started
            route = route_template(scope)
            observe_request(scope["method"], route, status, duration_s)
            log_access(scope["method"], route, status, duration_s)
            request_id_var.reset(token)


class RequestBodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {max_bytes} bytes")


class BodySizeLimitMiddleware:
    """413 for a body over `max_bytes`: at once from Content-Length, else while it streams.

    The streaming case raises RequestBodyTooLarge (an HTTPException) from `receive`, so the
    app's error handler answers it in the usual shape.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            too_large = RequestBodyTooLarge(self.max_bytes)
            for message in error_messages(413, "payload_too_large", too_large.detail):
                await send(message)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestBodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestBodyTooLarge as exc:
            if response_started:
                raise
            for message in error_messages(413, "payload_too_large", exc.detail):
                await send(message)


API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc load their scripts, styles and favicon from CDNs and start inline.
DOCS_CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; "
    "connect-src 'self'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
HSTS = "max-age=63072000; includeSubDomains"


class SecurityHeadersMiddleware:
    """nosniff, no framing, no referrer, a CSP (a looser one for the docs pages) and, in
    production, HSTS. Headers a response sets itself are kept."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in DOCS_PATHS else API_CSP
        wanted = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", csp.encode()),
        ]
        if self.hsts:
            wanted.append((b"strict-transport-security", HSTS.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in wanted if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ProxyHeadersMiddleware:
    """The client address and scheme from X-Forwarded-For / X-Forwarded-Proto, believed only
    when the peer is one of the `trusted` proxies (addresses or networks; "*": any).

    The client is the right-most X-Forwarded-For entry that is not a trusted proxy: entries
    further left were written by the client itself. From any other peer the headers are
    ignored, loopback included, so nothing can pick its own address for the login limits.
    """

    def __init__(self, app: ASGIApp, trusted: Sequence[str] = ()) -> None:
        self.app = app
        self.trust_all = "*" in trusted
        self.networks = [
            ipaddress.ip_network(entry, strict=False) for entry in trusted if entry != "*"
        ]

    def trusts(self, host: str) -> bool:
        if self.trust_all:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if (
            scope["type"] in ("http", "websocket")
            and (self.trust_all or self.networks)
            and client
            and self.trusts(client[0])
        ):
            scope = dict(scope)
            forwarded_for = b",".join(
                value for name, value in scope["headers"] if name == b"x-forwarded-for"
            ).decode("latin-1")
            hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
            if hops:
                untrusted = [hop for hop in hops if not self.trusts(hop)]
                scope["client"] = ((untrusted[-1] if untrusted else hops[0])[:64], 0)
            proto = dict(scope["headers"]).get(b"x-forwarded-proto", b"").decode("latin-1")
            proto = proto.split(",")[-1].strip().lower()
            if scope["type"] == "websocket":
                proto = {"http": "ws", "https": "wss"}.get(proto, proto)
            if proto in ("http", "https", "ws", "wss"):
                scope["scheme"] = proto
        await self.app(scope, receive, send)
