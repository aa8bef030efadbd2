"""Search, search export and incremental export endpoints."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode

from sandbox.zendesk.common import (
    FORBIDDEN,
    MAX_EXPORT_PAGE_SIZE,
    MAX_INCREMENTAL_PAGE_SIZE,
    MAX_PAGE_SIZE,
    SEARCH_RESULT_LIMIT,
    TICKET_TYPES,
    HttpError,
    _Context,
    _decode_cursor,
    _encode_cursor,
    parse_iso,
)
from sandbox.zendesk.handling import HandlerBase, _cursor_page, _int_param, _offset_page
from sandbox.zendesk.people import render_organization, render_user, search_people


class SearchHandlers(HandlerBase):
    """Search and export endpoints."""

    def search(self, context: _Context) -> Any:
        query = context.query.get("query", "")
        if not query.strip():
            raise HttpError(
                400, {"error": "InvalidSearchParameter", "description": "query is required"}
            )
        per_page = _int_param(context.query, "per_page", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
        page_number = _int_param(context.query, "page", 1, 10**9)
        if page_number * per_page > SEARCH_RESULT_LIMIT:
            raise HttpError(
                422,
                {
                    "error": "invalid",
                    "description": "Invalid search: Requested response size was greater "
                    "than Search Response Limits",
                },
            )
        kind = _people_kind(query)
        if kind is not None:
            return self._search_people(context, query, kind)
        hits = self.sim._search(
            query,
            sort_by=context.query.get("sort_by"),
            sort_order=context.query.get("sort_order"),
        )
        page, paging = _offset_page(context, hits)
        if page_number * per_page >= SEARCH_RESULT_LIMIT:
            paging["next_page"] = None
        results = [
            {**self.sim._render_ticket(t, context.base_url), "result_type": "ticket"} for t in page
        ]
        return {"results": results, "facets": None, **paging}

    def _search_people(self, context: _Context, query: str, kind: str) -> Any:
        if kind == "user":
            records, render = [self.sim.users[i] for i in sorted(self.sim.users)], render_user
        else:
            organizations = self.sim.organizations
            records = [organizations[i] for i in sorted(organizations)]
            render = render_organization
        page, paging = _offset_page(context, search_people(records, query, kind))
        results = [{**render(r, context.base_url), "result_type": kind} for r in page]
        return {"results": results, "facets": None, **paging}

    def search_count(self, context: _Context) -> Any:
        hits = self.sim._search(context.query.get("query", ""))
        return {"count": len(hits)}

    def search_export(self, context: _Context) -> Any:
        query = context.query.get("query", "")
        object_type = context.query.get("filter[type]")
        if not object_type:
            raise HttpError(
                400,
                {"error": "InvalidSearchParameter", "description": "filter[type] is required"},
            )
        # zenpy repeats the filter as `type:ticket` in the query; a different type is a
        # contradiction the real API cannot answer either.
        named = {value.lower() for value in re.findall(r"(?:^|\s)type:(\w+)", query)}
        if named - {object_type.lower()} - set(TICKET_TYPES):
            raise HttpError(
                400,
                {
                    "error": "InvalidSearchParameter",
                    "description": "type: in the query contradicts filter[type]",
                },
            )
        hits = sorted(
            self.sim._search(query, object_type=object_type),
            key=lambda t: (t["created_at"], t["id"]),
        )
        page, meta, links = _cursor_page(
            context, hits, lambda t: (t["created_at"], t["id"]), max_size=MAX_EXPORT_PAGE_SIZE
        )
        results = [
            {**self.sim._render_ticket(t, context.base_url), "result_type": "ticket"} for t in page
        ]
        return {"results": results, "facets": None, "meta": meta, "links": links}

    def _start_time(self, context: _Context) -> int:
        try:
            start = int(context.query.get("start_time", ""))
        except ValueError as exc:
            raise HttpError(
                400, {"error": "InvalidValue", "description": "start_time must be an integer"}
            ) from exc
        if start > time.time():
            raise HttpError(
                400, {"error": "InvalidValue", "description": "start_time is in the future"}
            )
        return start

    def _exportable(self) -> list[dict[str, Any]]:
        """Live and deleted tickets changed before the export's horizon, oldest first."""
        if self.sim.role != "admin":
            raise HttpError(403, FORBIDDEN)
        horizon = time.time() - self.sim.incremental_lag_s
        tickets = [*self.sim.tickets.values(), *self.sim.deleted_tickets.values()]
        return sorted((t for t in tickets if _export_key(t)[0] <= horizon), key=_export_key)

    def _render_exported(self, page: list[dict[str, Any]], base_url: str) -> list[dict[str, Any]]:
        tickets = []
        for ticket in page:
            rendered = self.sim._render_ticket(ticket, base_url)
            rendered["generated_timestamp"] = _export_key(ticket)[0]
            tickets.append(rendered)
        return tickets

    def incremental_tickets(self, context: _Context) -> Any:
        """The cursor-based export (`/incremental/tickets/cursor`)."""
        candidates = self._exportable()
        size = _int_param(
            context.query, "per_page", MAX_INCREMENTAL_PAGE_SIZE, MAX_INCREMENTAL_PAGE_SIZE
        )
        cursor = context.query.get("cursor")
        if cursor:
            after_key = tuple(_decode_cursor(cursor))
        elif "start_time" in context.query:
            after_key = (self._start_time(context), -1)
        else:
            raise HttpError(
                400, {"error": "InvalidValue", "description": "start_time or cursor is required"}
            )
        remaining = [t for t in candidates if _export_key(t) > tuple(after_key)]
        page = remaining[:size]
        end_of_stream = len(remaining) <= size
        after_cursor = _encode_cursor(_export_key(page[-1]) if page else tuple(after_key))
        before_cursor = _encode_cursor(_export_key(page[0])) if page else None
        url = f"{context.base_url}{context.path}"
        return {
            "tickets": self._render_exported(page, context.base_url),
            "after_cursor": after_cursor,
            "before_cursor": before_cursor,
            "after_url": f"{url}?{urlencode({'cursor': after_cursor})}",
            "before_url": f"{url}?{urlencode({'cursor': before_cursor})}"
            if before_cursor
            else None,
            "end_of_stream": end_of_stream,
            "count": len(page),
        }

    def incremental_tickets_by_time(self, context: _Context) -> Any:
        """The time-based export (`/incremental/tickets?start_time=`): pages end at a
        timestamp, the next starts there, so tickets sharing it are sent again, as Zendesk
        does (clients drop the duplicates)."""
        if "start_time" not in context.query:
            raise HttpError(400, {"error": "InvalidValue", "description": "start_time is required"})
        start = self._start_time(context)
        size = _int_param(
            context.query, "per_page", MAX_INCREMENTAL_PAGE_SIZE, MAX_INCREMENTAL_PAGE_SIZE
        )
        remaining = [t for t in self._exportable() if _export_key(t)[0] >= start]
        page = remaining[:size]
        end_of_stream = len(remaining) <= size
        end_time = _export_key(page[-1])[0] if page else start
        if not end_of_stream and end_time == start:
            end_time += 1  # a full page sharing one second would loop forever
        next_url = f"{context.base_url}{context.path}?{urlencode({'start_time': end_time})}"
        return {
            "tickets": self._render_exported(page, context.base_url),
            "next_page": next_url,
            "end_of_stream": end_of_stream,
            "end_time": end_time,
            "count": len(page),
        }

    def unknown(self, context: _Context) -> Any:
        raise HttpError(404, {"error": "InvalidEndpoint", "description": "Not found"})


def _export_key(ticket: dict[str, Any]) -> tuple[int, int]:
    return int(parse_iso(ticket["updated_at"]).timestamp()), ticket["id"]


def _people_kind(query: str) -> str | None:
    """ "user" or "organization" when the query asks for that object type."""
    found = re.search(r"(?:^|\s)type:(user|organization)\b", query, re.IGNORECASE)
    return found.group(1).lower() if found else None
