"""The simulated Zendesk account: seed state, knobs, fault injection."""

from __future__ import annotations

import copy
import functools
import itertools
import json
import random
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from sandbox.zendesk.common import (
    DEFAULT_API_TOKEN,
    DEFAULT_BASE_URL,
    DEFAULT_EMAIL,
    DEFAULT_OAUTH_TOKEN,
    DEFAULT_ORGANIZATIONS,
    SEED_PATH,
    TICKET_DEFAULTS,
    RecordedCall,
    _Fault,
    _Job,
    _Knobs,
)
from sandbox.zendesk.jobs import JobsMixin
from sandbox.zendesk.pipeline import RequestPipelineMixin
from sandbox.zendesk.search import SearchMixin
from sandbox.zendesk.tickets import TicketStoreMixin
from sandbox.zendesk.webhooks import WebhookAttempt, WebhooksMixin, WebhookSubscription


@functools.lru_cache(maxsize=4)
def _parsed_seed(path: str, _mtime_ns: int) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


class ZendeskSimulator(
    RequestPipelineMixin, TicketStoreMixin, JobsMixin, SearchMixin, WebhooksMixin
):
    """State and knobs of one simulated Zendesk account.

    Knobs (plain attributes, change them at any time): `latency_s`, `rate_limit_per_minute`
    (None = unlimited), `fault_5xx_rate` and `timeout_rate` (0..1, drawn from a seeded
    random), `hang_s`, `job_delay_s`, `search_index_delay_s`, `incremental_lag_s`,
    `endpoint_limits`, `accept_undocumented_additional_tags`. `reset()` restores the seed
    data and the knobs given to the constructor.
    """

    def __init__(
        self,
        *,
        seed_path: Path | None = SEED_PATH,
        email: str = DEFAULT_EMAIL,
        api_token: str = DEFAULT_API_TOKEN,
        oauth_token: str | None = DEFAULT_OAUTH_TOKEN,
        role: str = "admin",
        base_url: str = DEFAULT_BASE_URL,
        random_seed: int = 1234,
        latency_s: float = 0.0,
        rate_limit_per_minute: int | None = None,
        fault_5xx_rate: float = 0.0,
        timeout_rate: float = 0.0,
        hang_s: float = 30.0,
        job_delay_s: float = 0.05,
        search_index_delay_s: float = 0.0,
        incremental_lag_s: float = 0.0,
        endpoint_limits: dict[str, int] | None = None,
        accept_undocumented_additional_tags: bool = False,
        webhook_endpoint_check: Callable[[str], str | None] | None = None,
    ) -> None:
        """`webhook_endpoint_check(url)` returns why a webhook endpoint is refused (None
        accepts it); the built-in sandbox uses it to send only to its own service."""
        self.webhook_endpoint_check = webhook_endpoint_check
        self.email = email
        self.api_token = api_token
        self.oauth_token = oauth_token
        self.role = role
        self.base_url = base_url.rstrip("/")
        self.random_seed = random_seed
        self._seed_path = seed_path
        self._initial_knobs = _Knobs(
            latency_s=latency_s,
            rate_limit_per_minute=rate_limit_per_minute,
            fault_5xx_rate=fault_5xx_rate,
            timeout_rate=timeout_rate,
            hang_s=hang_s,
            job_delay_s=job_delay_s,
            search_index_delay_s=search_index_delay_s,
            incremental_lag_s=incremental_lag_s,
            endpoint_limits=dict(endpoint_limits or {}),
            accept_undocumented_additional_tags=accept_undocumented_additional_tags,
        )
        self._lock = threading.RLock()
        self._seed = self._load_seed(seed_path)
        self._generation = 0
        self._webhook_pool: ThreadPoolExecutor | None = None
        self._webhook_http: httpx.Client | None = None
        self.reset()

    # --- knobs ---------------------------------------------------------------------------

    latency_s: float
    rate_limit_per_minute: int | None
    fault_5xx_rate: float
    timeout_rate: float
    hang_s: float
    job_delay_s: float
    search_index_delay_s: float
    incremental_lag_s: float
    endpoint_limits: dict[str, int]
    accept_undocumented_additional_tags: bool

    def _apply_knobs(self, knobs: _Knobs) -> None:
        for name, value in vars(knobs).items():
            setattr(self, name, copy.deepcopy(value))

    # --- state ---------------------------------------------------------------------------

    @staticmethod
    def _load_seed(seed_path: Path | None) -> dict[str, Any]:
        """The parsed seed, shared read-only by every simulator (reset() copies from it)."""
        if seed_path is None:
            return {"users": [], "tickets": [], "comments": {}, "labels": {}}
        return _parsed_seed(str(seed_path), seed_path.stat().st_mtime_ns)

    def reset(self) -> None:
        """Restore seed tickets and constructor knobs; forget calls, jobs, faults, events,
        webhooks and their deliveries (deliveries still queued are dropped)."""
        with self._lock:
            self._generation += 1
            self._apply_knobs(self._initial_knobs)
            self._rng = random.Random(self.random_seed)
            self.users: dict[int, dict[str, Any]] = {
                user["id"]: dict(user) for user in self._seed.get("users", [])
            }
            self.tickets: dict[int, dict[str, Any]] = {}
            for raw in self._seed["tickets"]:
                ticket = {"id": raw["id"], **copy.deepcopy(TICKET_DEFAULTS), **copy.deepcopy(raw)}
                ticket.pop("url", None)
                self.tickets[ticket["id"]] = ticket
            self.comments: dict[int, list[dict[str, Any]]] = {
                int(ticket_id): [self._comment_defaults(comment) for comment in thread]
                for ticket_id, thread in copy.deepcopy(self._seed["comments"]).items()
            }
            for ticket_id in self.tickets:
                self.comments.setdefault(ticket_id, [])
            self.labels: dict[int, dict[str, str]] = {
                int(ticket_id): label for ticket_id, label in self._seed.get("labels", {}).items()
            }
            self.audits: dict[int, list[dict[str, Any]]] = {}
            self.deleted_tickets: dict[int, dict[str, Any]] = {}
            self.organizations: dict[int, dict[str, Any]] = {
                org["id"]: dict(org)
                for org in self._seed.get("organizations") or DEFAULT_ORGANIZATIONS
            }
            self._organization_ids = itertools.count(max(self.organizations, default=0) + 1)
            self.calls: list[RecordedCall] = []
            self.jobs: dict[str, _Job] = {}
            self.events: list[dict[str, Any]] = []
            self.webhooks: list[WebhookSubscription] = []
            self.webhook_attempts: list[WebhookAttempt] = []
            self._invocation_ids = itertools.count(8_000_000_001)
            self._webhook_ids = itertools.count(1)
            self._indexed_at: dict[int, float] = {}
            self._faults: deque[_Fault] = deque()
            self._window: deque[float] = deque()
            self._endpoint_windows: dict[str, deque[float]] = {}
            all_comment_ids = [c["id"] for thread in self.comments.values() for c in thread]
            self._comment_ids = itertools.count(max(all_comment_ids, default=40000000000) + 1)
            self._audit_ids = itertools.count(50000000001)
            self._event_ids = itertools.count(60000000001)
            self._ticket_ids = itertools.count(max(self.tickets, default=0) + 1)
            self._job_seq = itertools.count(1)
            self._request_seq = itertools.count(1)

    @property
    def me(self) -> dict[str, Any]:
        """The authenticated user: the seed's admin, with the configured email and role."""
        admins = [user for user in self.users.values() if user.get("role") == "admin"]
        base = admins[0] if admins else {"id": 360000000001, "name": "Triage Bot"}
        return {
            "id": base["id"],
            "url": f"{self.base_url}/api/v2/users/{base['id']}.json",
            "name": base["name"],
            "email": self.email,
            "role": self.role,
            "active": True,
            "time_zone": "UTC",
            "locale": "en-US",
        }

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        """A copy of one stored ticket (KeyError if absent)."""
        with self._lock:
            return self._render_ticket(self.tickets[ticket_id], self.base_url)

    def ticket_comments(self, ticket_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.comments.get(ticket_id, []))

    def calls_matching(
        self, *, method: str | None = None, path_contains: str | None = None
    ) -> list[RecordedCall]:
        with self._lock:
            return [
                call
                for call in self.calls
                if (method is None or call.method == method.upper())
                and (path_contains is None or path_contains in call.path)
            ]

    def create_ticket(self, subject: str, body: str, **fields: Any) -> dict[str, Any]:
        """Create a ticket as if a customer wrote in; returns the ticket as the API shows it."""
        with self._lock:
            ticket = self._create_ticket_locked(subject, body, fields, via="web")
            return self._render_ticket(ticket, self.base_url)

    def fail_next(
        self,
        n: int,
        status: int,
        retry_after: float | None = None,
        *,
        path_contains: str | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `n` requests (optionally only those whose path contains a string)
        with `status`; 429 gets the real plain-text body and `Retry-After` when given."""
        with self._lock:
            for _ in range(n):
                self._faults.append(_Fault(status, retry_after, path_contains, None, body))

    def hang_next(
        self, n: int, hang_s: float | None = None, *, path_contains: str | None = None
    ) -> None:
        """Stall the next `n` requests for `hang_s` (default `self.hang_s`), then answer them
        normally: the client sees a timeout, the server still applies the change."""
        with self._lock:
            for _ in range(n):
                self._faults.append(_Fault(None, None, path_contains, hang_s or self.hang_s))

    def _pop_fault(self, path: str) -> _Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.path_contains is None or fault.path_contains in path:
                del self._faults[index]
                return fault
        return None
