"""Zendesk Support API client: one pooled httpx.Client per account, bounded retries, typed
errors and the account's rate limit, shared by every process and learned from Zendesk.

Safe to share between the threads of a pool. Credentials never reach logs or reprs.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from app.core import observability
from app.integrations import rate_limits
from app.integrations.zendesk.credentials import ZendeskCredentials, zendesk_base_url
from app.integrations.zendesk.errors import (
    ZendeskError,
    ZendeskJobFailed,
    ZendeskJobTimeout,
    ZendeskRateLimited,
    ZendeskUnavailable,
    as_rate_limited,
    error_from_response,
    json_body,
    retry_after_s,
)

logger = logging.getLogger(__name__)

MAX_IDS_PER_CALL = 100
SEARCH_PAGE_SIZE = 100
COMMENTS_PAGE_SIZE = 100

_TYPE_FILTER_RE = re.compile(r"(?:^|\s)type:ticket(?=\s|$)", re.IGNORECASE)


@dataclass(frozen=True)
class NoteResult:
    """What add_tags_and_note wrote; keep `comment_id` to avoid posting the same note twice."""

    ticket_id: int
    tags: tuple[str, ...]
    comment_id: int | None
    audit_id: int | None


class _BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


# --- client ------------------------------------------------------------------------------


class ZendeskClient:
    """Synchronous client for one Zendesk account; share one instance per account.

    Every HTTP attempt waits for a slot of the account's budget (`requests_per_minute` until
    Zendesk's `X-Rate-Limit` says otherwise; shared through Redis when configured), counts
    in `calls_made`, and its rate-limit headers pace the next calls. Retries, at most
    `max_retries`: 429 waits `Retry-After` (every process pauses; a wait above
    `retry_after_cap_s` raises ZendeskRateLimited at once so a worker can reschedule), 5xx
    / timeouts / connection errors back off exponentially with full jitter. 400/401/403/404/
    409/422 raise typed errors immediately.
    """

    def __init__(
        self,
        base_url: str,
        credentials: ZendeskCredentials,
        *,
        requests_per_minute: int = 400,
        burst_s: float = rate_limits.DEFAULT_BURST_S,
        timeout_s: float = 10.0,
        max_retries: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        retry_after_cap_s: float = 60.0,
        max_connections: int = 20,
        transport: httpx.BaseTransport | None = None,
        limits_store: rate_limits.Store | None = None,
    ) -> None:
        self.base_url = zendesk_base_url(base_url)
        self.account_key = f"{self.base_url}|{credentials.fingerprint()}"
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.retry_after_cap_s = retry_after_cap_s
        self.limiter = rate_limits.UpstreamLimiter(
            "zendesk",
            self.account_key,
            limits_store or rate_limits.shared_store(),
            requests_per_minute=requests_per_minute,
            pacing=rate_limits.Pacing(burst_s=burst_s, max_wait_s=retry_after_cap_s),
        )
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        auth: httpx.Auth
        if credentials.oauth_token:
            auth = _BearerAuth(credentials.oauth_token)
        else:
            auth = httpx.BasicAuth(f"{credentials.email}/token", credentials.api_token)
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=auth,
            timeout=self._timeout,
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
            ),
            headers={"Accept": "application/json", "User-Agent": "ticket-triage/0.1"},
            transport=transport,
            # The address guard checked base_url, not where a 3xx would lead.
            follow_redirects=False,
        )
        self._jitter = random.Random()
        self._stats_lock = threading.Lock()
        self.calls_made = 0
        self.retries_made = 0
        self.rate_limited = 0
        self.closed = False

    def __repr__(self) -> str:
        return f"ZendeskClient({self.base_url!r})"

    def __enter__(self) -> ZendeskClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True
        self._http.close()

    # --- reads ---------------------------------------------------------------------------

    def test_connection(self) -> dict[str, Any]:
        """The authenticated user (`users/me`); raises ZendeskAuthError on bad credentials."""
        return self._request("GET", "/api/v2/users/me.json")["user"]

    def get_ticket(self, ticket_id: int) -> dict[str, Any]:
        return self._request("GET", f"/api/v2/tickets/{int(ticket_id)}.json")["ticket"]

    def get_tickets(self, ticket_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Tickets by id via show_many, 100 ids per call; ids Zendesk lacks are absent."""
        unique_ids = list(dict.fromkeys(int(ticket_id) for ticket_id in ticket_ids))
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(unique_ids), MAX_IDS_PER_CALL):
            chunk = unique_ids[start : start + MAX_IDS_PER_CALL]
            data = self._request(
                "GET",
                "/api/v2/tickets/show_many.json",
                params={"ids": ",".join(str(ticket_id) for ticket_id in chunk)},
            )
            for ticket in data.get("tickets", []):
                found[int(ticket["id"])] = ticket
        return found

    def get_comments(self, ticket_id: int) -> list[dict[str, Any]]:
        """Every comment of a ticket, oldest first (cursor pagination)."""
        comments: list[dict[str, Any]] = []
        params: dict[str, Any] = {"page[size]": COMMENTS_PAGE_SIZE}
        while True:
            data = self._request(
                "GET", f"/api/v2/tickets/{int(ticket_id)}/comments.json", params=params
            )
            comments.extend(data.get("comments", []))
            meta = data.get("meta") or {}
            if not meta.get("has_more") or not meta.get("after_cursor"):
                return comments
            params = {"page[size]": COMMENTS_PAGE_SIZE, "page[after]": meta["after_cursor"]}

    def search_pages(
        self, query: str, *, page_size: int = SEARCH_PAGE_SIZE
    ) -> Iterator[list[dict[str, Any]]]:
        """Ticket search results page by page, via the export endpoint (cursor pagination,
        no 1,000-result cap, ordered by created_at). `type:ticket` in the query is implied."""
        export_query = " ".join(_TYPE_FILTER_RE.sub(" ", query).split())
        params: dict[str, Any] = {
            "query": export_query,
            "filter[type]": "ticket",
            "page[size]": page_size,
        }
        while True:
            data = self._request("GET", "/api/v2/search/export.json", params=params)
            yield data.get("results", [])
            meta = data.get("meta") or {}
            if not meta.get("has_more") or not meta.get("after_cursor"):
                return
            params = {**params, "page[after]": meta["after_cursor"]}

    def search(self, query: str, *, page_size: int = SEARCH_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every ticket matching a Zendesk search query, across all pages."""
        for page in self.search_pages(query, page_size=page_size):
            yield from page

    def incremental_export(
        self, start_time: int | datetime | None = None, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        """One page of the cursor-based incremental ticket export (admins only):
        (tickets, after_cursor, end_of_stream). Start with `start_time`, then pass the cursor."""
        if (start_time is None) == (cursor is None):
            raise ValueError("pass exactly one of start_time or cursor")
        params: dict[str, Any]
        if cursor is not None:
            params = {"cursor": cursor}
        elif isinstance(start_time, datetime):
            params = {"start_time": int(start_time.astimezone(UTC).timestamp())}
        else:
            params = {"start_time": int(start_time or 0)}
        data = self._request("GET", "/api/v2/incremental/tickets/cursor.json", params=params)
        return data.get("tickets", []), data.get("after_cursor"), bool(data.get("end_of_stream"))

    # --- writes --------------------------------------------------------------------------

    def add_tags_and_note(
        self, ticket_id: int, tags: Sequence[str], note_body: str | None
    ) -> NoteResult:
        """Add tags without dropping existing ones, then post a private note.

        Tags go through the Add Tags endpoint (`PUT tickets/{id}/tags.json`, idempotent) and
        the note through Update Ticket with only a `{"public": false}` comment: Zendesk
        documents `additional_tags` for bulk updates only, and `tags` would replace all tags.
        Tags first, so a retry after a failed note never loses or duplicates anything.
        """
        tag_list = _checked_tags(tags)
        if not tag_list and not note_body:
            raise ValueError("nothing to write: no tags and no note")
        ticket_id = int(ticket_id)
        current_tags: list[str] = []
        if tag_list:
            data = self._request(
                "PUT", f"/api/v2/tickets/{ticket_id}/tags.json", json={"tags": tag_list}
            )
            current_tags = list(data.get("tags", []))
        comment_id = audit_id = None
        if note_body:
            data = self._request(
                "PUT",
                f"/api/v2/tickets/{ticket_id}.json",
                json={"ticket": {"comment": {"body": note_body, "public": False}}},
                idempotent=False,
            )
            current_tags = list(data["ticket"].get("tags", current_tags))
            audit = data.get("audit") or {}
            audit_id = audit.get("id")
            comment_id = next(
                (
                    event.get("id")
                    for event in audit.get("events", [])
                    if event.get("type") == "Comment"
                ),
                None,
            )
        return NoteResult(ticket_id, tuple(current_tags), comment_id, audit_id)

    def remove_tags(self, ticket_id: int, tags: Sequence[str]) -> list[str]:
        """Remove tags (`DELETE tickets/{id}/tags.json`, idempotent); returns the tags left."""
        data = self._request(
            "DELETE",
            f"/api/v2/tickets/{int(ticket_id)}/tags.json",
            json={"tags": _checked_tags(tags)},
        )
        return list(data.get("tags", []))

    def update_many(
        self,
        *,
        ticket_ids: Sequence[int] | None = None,
        ticket: Mapping[str, Any] | None = None,
        tickets: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Queue a bulk update (≤ 100 tickets) and return its `job_status`.

        Either the same change for many tickets (`ticket_ids` + `ticket`, where
        `additional_tags`/`remove_tags` work) or one change per ticket (`tickets`, each with
        an `id`; additional/remove tags are refused there because Zendesk does not honour them
        reliably). `tags` replaces all of a ticket's tags, so it is allowed only per ticket with
        `safe_update` and the `updated_stamp` read with it: a ticket changed since then fails
        with a conflict instead of losing tags.
        """
        if (tickets is None) == (ticket_ids is None or ticket is None):
            raise ValueError("pass either ticket_ids with ticket, or tickets")
        params: dict[str, Any] | None = None
        if tickets is None:
            assert ticket_ids is not None and ticket is not None
            ids = list(dict.fromkeys(int(ticket_id) for ticket_id in ticket_ids))
            _check_batch_size(len(ids))
            if "tags" in ticket:
                raise ValueError("`tags` replaces all tags; use additional_tags / remove_tags")
            params = {"ids": ",".join(str(ticket_id) for ticket_id in ids)}
            body: dict[str, Any] = {"ticket": dict(ticket)}
            has_comment = "comment" in ticket
        else:
            _check_batch_size(len(tickets))
            for item in tickets:
                if not isinstance(item.get("id"), int):
                    raise ValueError("every ticket in `tickets` needs an integer id")
                refused = {"tags", "additional_tags", "remove_tags"} & set(item)
                if refused == {"tags"} and item.get("safe_update") and item.get("updated_stamp"):
                    refused = set()  # a full tag set guarded by safe_update: stale → 409
                if refused:
                    raise ValueError(
                        f"{sorted(refused)} not allowed per ticket; use ticket_ids + ticket"
                    )
            body = {"tickets": [dict(item) for item in tickets]}
            has_comment = any("comment" in item for item in tickets)
        data = self._request(
            "PUT",
            "/api/v2/tickets/update_many.json",
            params=params,
            json=body,
            idempotent=not has_comment,
        )
        return data["job_status"]

    def add_tags_many(
        self, ticket_ids: Sequence[int], tags: Sequence[str], *, remove_tags: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Add (and optionally remove) the same tags on up to 100 tickets; returns the job."""
        change: dict[str, Any] = {"additional_tags": _checked_tags(tags)}
        if remove_tags:
            change["remove_tags"] = _checked_tags(remove_tags)
        return self.update_many(ticket_ids=ticket_ids, ticket=change)

    def add_notes_many(self, notes: Mapping[int, str]) -> dict[str, Any]:
        """Post one private note per ticket (up to 100 tickets); returns the job."""
        return self.update_many(
            tickets=[
                {"id": int(ticket_id), "comment": {"body": body, "public": False}}
                for ticket_id, body in notes.items()
            ]
        )

    def get_job_status(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v2/job_statuses/{job_id}.json")["job_status"]

    def wait_for_job(
        self,
        job_id: str,
        timeout_s: float = 120.0,
        *,
        first_poll_s: float = 0.1,
        max_poll_s: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Poll a job until it completes; returns its per-ticket results
        (`{"id", "success", "status"}` or `{"id", "success": false, "error", "details"}`)."""
        deadline = time.monotonic() + timeout_s
        interval = first_poll_s
        while True:
            status = self.get_job_status(job_id)
            state = status.get("status")
            if state == "completed":
                return list(status.get("results") or [])
            if state in {"failed", "killed"}:
                raise ZendeskJobFailed(
                    f"Zendesk job {job_id} {state}: {status.get('message') or 'no message'}",
                    job_status=status,
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ZendeskJobTimeout(
                    f"Zendesk job {job_id} still {state} after {timeout_s:.0f}s",
                    job_status=status,
                )
            time.sleep(min(interval, remaining))
            interval = min(interval * 1.5, max_poll_s)

    # --- transport -----------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._stats_lock:
            setattr(self, name, getattr(self, name) + 1)

    def _backoff_s(self, attempt: int) -> float:
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2**attempt))
        return self._jitter.uniform(0, ceiling)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One logical call with retries. Non-idempotent writes (new comments) are repeated
        only when Zendesk cannot have applied them: 429, 503 and failed connects."""
        attempt = 0
        while True:
            try:
                self.limiter.acquire()
            except rate_limits.WaitTooLong as exc:
                raise ZendeskRateLimited(
                    f"Zendesk {method} {path}: the account's rate limit is taken for "
                    f"{exc.wait_s:.0f}s",
                    retry_after_s=exc.wait_s,
                    status_code=429,
                ) from exc
            self._count("calls_made")
            failure: ZendeskError
            cause: Exception | None = None
            wait_s: float | None = None
            try:
                response = self._http.request(
                    method, path, params=params, json=json, timeout=self._timeout
                )
            except httpx.TransportError as exc:
                observability.upstream_error("zendesk", observability.transport_error_kind(exc))
                not_sent = isinstance(
                    exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                )
                retryable = idempotent or not_sent
                cause = exc
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
                failure = ZendeskUnavailable(
                    f"Zendesk {method} {path} {kind}: {type(exc).__name__}"
                    + ("" if retryable else " (write not repeated: it may have been applied)")
                )
            else:
                status = response.status_code
                self.limiter.learn(rate_limits.from_zendesk_headers(response.headers))
                if status < 300:  # a 3xx is not followed: an error like a 4xx
                    return json_body(response, method, path)
                observability.upstream_error("zendesk", observability.http_error_kind(status))
                if status == 429:
                    self._count("rate_limited")
                    retry_after = retry_after_s(response)
                    failure = error_from_response(response, method, path)
                    if retry_after is not None and retry_after > self.retry_after_cap_s:
                        raise as_rate_limited(failure, retry_after)
                    if attempt >= self.max_retries:
                        raise as_rate_limited(failure, retry_after)
                    wait_s = retry_after if retry_after is not None else self._backoff_s(attempt)
                    self.limiter.pause_for(wait_s)
                    retryable = True
                elif status >= 500:
                    failure = error_from_response(response, method, path)
                    retryable = idempotent or status == 503
                    if not retryable:
                        failure = ZendeskUnavailable(
                            f"{failure.message} (write not repeated: it may have been applied)",
                            status_code=status,
                            zendesk_error=failure.zendesk_error,
                            details=failure.details,
                            request_id=failure.request_id,
                        )
                    retry_after = retry_after_s(response)
                    if retry_after is not None and retry_after <= self.retry_after_cap_s:
                        wait_s = retry_after
                else:
                    raise error_from_response(response, method, path)
            if not retryable or attempt >= self.max_retries:
                raise failure from cause
            delay_s = wait_s if wait_s is not None else self._backoff_s(attempt)
            attempt += 1
            self._count("retries_made")
            logger.warning(
                "zendesk %s %s: %s; retry %d/%d in %.2fs",
                method,
                path,
                failure.message,
                attempt,
                self.max_retries,
                delay_s,
            )
            if failure.status_code != 429:  # a 429 pause is held by the shared limiter
                time.sleep(delay_s)


def _checked_tags(tags: Sequence[str]) -> list[str]:
    if isinstance(tags, str):
        raise ValueError("tags must be a list of strings, not one string")
    checked: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or any(ch.isspace() for ch in tag.strip()):
            raise ValueError(f"invalid tag {tag!r}: tags are single words without spaces")
        if tag.strip() not in checked:
            checked.append(tag.strip())
    return checked


def _check_batch_size(count: int) -> None:
    if count == 0:
        raise ValueError("update_many needs at least one ticket")
    if count > MAX_IDS_PER_CALL:
        raise ValueError(f"update_many takes at most {MAX_IDS_PER_CALL} tickets, got {count}")
