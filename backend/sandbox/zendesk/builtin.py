"""The built-in sandbox: the Zendesk simulator mounted inside the service, one account per
user, sending webhooks only to the service itself.

Each tenant is its own `ZendeskSimulator` (its own seeded tickets, changes, webhooks and
rate limit), created on its first request and kept in a bounded LRU (an evicted tenant
starts again from the seed, as after a restart). The tenant comes from the credentials:
- `agent@example.com/token` with a tenant token (`tenant_api_token(secret, tenant)`, what
  the service hands its own Zendesk client for a user), or
- `Authorization: Bearer <token>` when the mount's `bearer_tenant` accepts it (the service
  passes its login tokens, so people reach their own sandbox with the token they use for
  the API), or
- the documented demo credentials (`agent@example.com` / `sim-api-token`): a shared demo
  account that holds no user's tickets.
Anything else is 401, as Zendesk answers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import anyio
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from sandbox.serve import env_int
from sandbox.zendesk.app import create_zendesk_app
from sandbox.zendesk.common import (
    DEFAULT_API_TOKEN,
    DEFAULT_EMAIL,
    DEFAULT_OAUTH_TOKEN,
    NOT_AUTHENTICATED,
)
from sandbox.zendesk.simulator import ZendeskSimulator

DEMO_TENANT = "demo"
MAX_TENANTS = 32
"""About 2.5 MB of seeded tickets each."""
WEBHOOK_PATH = "/webhooks/"
RESOLVER_THREADS = 4
_TOKEN_PREFIX = "sbx-"


def tenant_api_token(secret: str, tenant: str) -> str:
    """The sandbox API token of `tenant`: the tenant's name and a MAC under `secret`."""
    mac = hmac.new(secret.encode(), f"sandbox-tenant:{tenant}".encode(), hashlib.sha256)
    return f"{_TOKEN_PREFIX}{tenant}-{mac.hexdigest()[:32]}"


def own_webhook_urls(service_urls: Sequence[str]) -> Callable[[str], str | None]:
    """A webhook endpoint check accepting only `{service}/webhooks/...` of the given URLs."""
    allowed = []
    for service_url in service_urls:
        parts = urlsplit(service_url.rstrip("/"))
        allowed.append((parts.scheme.lower(), parts.netloc.lower(), parts.path + WEBHOOK_PATH))
    shown = ", ".join(f"{scheme}://{netloc}{path}" for scheme, netloc, path in allowed)

    def check(url: str) -> str | None:
        parts = urlsplit(url)
        target = (parts.scheme.lower(), parts.netloc.lower())
        for scheme, netloc, path in allowed:
            if (
                target == (scheme, netloc)
                and parts.path.startswith(path)
                and ".." not in parts.path
                and "@" not in parts.netloc
            ):
                return None
        return (
            "the built-in sandbox only sends webhooks to this service's own webhook URLs "
            f"({shown}); use a Zendesk account or the standalone simulator for other targets"
        )

    return check


class BuiltinSandbox:
    """ASGI app routing each request to its tenant's simulator."""

    def __init__(
        self,
        *,
        secret: str,
        service_urls: Sequence[str],
        bearer_tenant: Callable[[str], str | None] | None = None,
        max_tenants: int = MAX_TENANTS,
        simulator_options: dict[str, Any] | None = None,
    ) -> None:
        self._secret = secret
        self._bearer_tenant = bearer_tenant
        self._max_tenants = max_tenants
        self._options = dict(simulator_options or {})
        self._webhook_check = own_webhook_urls(service_urls)
        self._tenants: OrderedDict[str, tuple[ZendeskSimulator, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._limiter = anyio.CapacityLimiter(RESOLVER_THREADS)

    def tenant_of(self, authorization: str) -> str | None:
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            if hmac.compare_digest(value.encode(), DEFAULT_OAUTH_TOKEN.encode()):
                return DEMO_TENANT
            return self._bearer_tenant(value) if self._bearer_tenant else None
        if scheme.lower() != "basic":
            return None
        try:
            user, _, token = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if user.lower() != f"{DEFAULT_EMAIL}/token":
            return None
        if hmac.compare_digest(token.encode(), DEFAULT_API_TOKEN.encode()):
            return DEMO_TENANT
        tenant = token.removeprefix(_TOKEN_PREFIX).rpartition("-")[0]
        expected = tenant_api_token(self._secret, tenant)
        if token.startswith(_TOKEN_PREFIX) and hmac.compare_digest(
            token.encode(), expected.encode()
        ):
            return tenant
        return None

    def _resolve(self, authorization: str) -> tuple[ZendeskSimulator, Any] | None:
        tenant = self.tenant_of(authorization)
        return None if tenant is None else self._tenant(tenant)

    def simulator(self, tenant: str) -> ZendeskSimulator:
        """The tenant's simulator (created, or refreshed in the LRU)."""
        return self._tenant(tenant)[0]

    def _cached(self, tenant: str) -> tuple[ZendeskSimulator, Any] | None:
        with self._lock:
            found = self._tenants.get(tenant)
            if found is not None:
                self._tenants.move_to_end(tenant)
            return found

    def _tenant(self, tenant: str) -> tuple[ZendeskSimulator, Any]:
        with self._lock:
            found = self._tenants.get(tenant)
            if found is not None:
                self._tenants.move_to_end(tenant)
                return found
        sim = ZendeskSimulator(
            api_token=tenant_api_token(self._secret, tenant),
            oauth_token=None,
            webhook_endpoint_check=self._webhook_check,
            **self._options,
        )
        created = (sim, create_zendesk_app(sim))
        with self._lock:
            found = self._tenants.setdefault(tenant, created)
            self._tenants.move_to_end(tenant)
            evicted = []
            while len(self._tenants) > self._max_tenants:
                evicted.append(self._tenants.popitem(last=False)[1][0])
        for old in [*evicted, *([sim] if found is not created else [])]:
            threading.Thread(target=old.close, daemon=True).start()  # waits for deliveries
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        found = None
        if authorization[:6].lower() == "basic ":  # the service's own client: no I/O
            tenant = self.tenant_of(authorization)
            found = self._cached(tenant) if tenant is not None else None
            if tenant is None:
                authorization = ""
        if found is None and authorization:
            # A login token is checked against the service's database and a new account
            # copies the seed: in threads of the sandbox's own, so API requests that wait
            # for the sandbox can never hold every thread it needs.
            found = await anyio.to_thread.run_sync(
                self._resolve, authorization, limiter=self._limiter
            )
        if found is None:
            response = JSONResponse(NOT_AUTHENTICATED, status_code=401)
            await response(scope, receive, send)
            return
        sim, app = found
        # The tenant's simulator checks its own credentials: present them.
        basic = base64.b64encode(f"{sim.email}/token:{sim.api_token}".encode())
        rewritten = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
        rewritten.append((b"authorization", b"Basic " + basic))
        await app({**scope, "headers": rewritten}, receive, send)


def create_builtin_sandbox(
    *,
    secret: str,
    service_urls: Sequence[str],
    bearer_tenant: Callable[[str], str | None] | None = None,
    rate_limit_per_minute: int | None = None,
) -> BuiltinSandbox:
    """The sandbox the service mounts (e.g. at /sandbox/zendesk); each account's limit
    is `rate_limit_per_minute`, else ZENDESK_SIM_RPM, else none."""
    limit = rate_limit_per_minute or env_int("ZENDESK_SIM_RPM")
    options = {"rate_limit_per_minute": limit}
    return BuiltinSandbox(
        secret=secret,
        service_urls=service_urls,
        bearer_tenant=bearer_tenant,
        simulator_options=options,
    )
