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
    HttpError,
    _Context,
    _decode_cursor,
    _encode_cursor,
    parse_iso,
)
from sandbox.zendesk.handling import HandlerBase, _cursor_page, _int_param, _offset_page


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
        hits = self.sim._search(query)
        page, paging = _offset_page(context, hits)
        if page_number * per_page >= SEARCH_RESULT_LIMIT:
            paging["next_page"] = None
        results = [
            {**self.sim._render_ticket(t, context.base_url), "result_type": "ticket"} for t in page
        ]
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
        if re.search(r"(^|\s)-?type:", query):
            raise HttpError(
                400,
                {
                    "error": "InvalidSearchParameter",
                    "description": "Use filter[type] instead of type: in the query",
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

    def incremental_tickets(self, context: _Context) -> Any:
        if self.sim.role != "admin":
            raise HttpError(403, FORBIDDEN)
        size = _int_param(
            context.query, "per_page", MAX_INCREMENTAL_PAGE_SIZE, MAX_INCREMENTAL_PAGE_SIZE
        )
        cursor = context.query.get("cursor")
        start_time = context.query.get("start_time")
        if cursor:
            after_key = tuple(_decode_cursor(cursor))
        elif start_time is not None:
            try:
                start = int(start_time)
            except ValueError as exc:
                raise HttpError(
                    400, {"error": "InvalidValue", "description": "start_time must be an integer"}
                ) from exc
            if start > time.time():
                raise HttpError(
                    400, {"error": "InvalidValue", "description": "start_time is in the future"}
                )
            after_key = (start, -1)
        else:
            raise HttpError(
                400, {"error": "InvalidValue", "description": "start_time or cursor is required"}
            )
        horizon = time.time() - self.sim.incremental_lag_s

        def key(ticket: dict[str, Any]) -> tuple[int, int]:
            return int(parse_iso(ticket["updated_at"]).timestamp()), ticket["id"]

        candidates = sorted((t for t in self.sim.tickets.values() if key(t)[0] <= horizon), key=key)
        remaining = [t for t in candidates if key(t) > tuple(after_key)]
        page = remaining[:size]
        end_of_stream = len(remaining) <= size
        after_cursor = _encode_cursor(key(page[-1]) if page else tuple(after_key))
        before_cursor = _encode_cursor(key(page[0])) if page else None
        url = f"{context.base_url}{context.path}"
        tickets = []
        for ticket in page:
            rendered = self.sim._render_ticket(ticket, context.base_url)
            rendered["generated_timestamp"] = key(ticket)[0]
            tickets.append(rendered)
        return {
            "tickets": tickets,
            "after_cursor": after_cursor,
            "before_cursor": before_cursor,
            "after_url": f"{url}?{urlencode({'cursor': after_cursor})}",
            "before_url": f"{url}?{urlencode({'cursor': before_cursor})}"
            if before_cursor
            else None,
            "end_of_stream": end_of_stream,
            "count": len(tickets),
        }

    def unknown(self, context: _Context) -> Any:
        raise HttpError(404, {"error": "InvalidEndpoint", "description": "Not found"})
