"""Query parameters, pagination and the base of the endpoint handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from sandbox.zendesk.common import (
    MAX_IDS,
    MAX_PAGE_SIZE,
    NOT_FOUND,
    HttpError,
    _Context,
    _decode_cursor,
    _encode_cursor,
    _invalid_pagination,
)
from sandbox.zendesk.simulator import ZendeskSimulator


def _int_param(query: dict[str, str], name: str, default: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise HttpError(400, _invalid_pagination(f"{name} must be an integer")) from exc
    if value < 1:
        raise HttpError(400, _invalid_pagination(f"{name} must be positive"))
    if value > maximum:
        raise HttpError(400, _invalid_pagination(f"{name} must be less than or equal to {maximum}"))
    return value


def _parse_ids(query: dict[str, str]) -> list[int]:
    raw = query.get("ids")
    if not raw:
        raise HttpError(400, {"error": "InvalidValue", "description": "ids parameter is required"})
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise HttpError(
            400, {"error": "InvalidValue", "description": "ids must be comma-separated integers"}
        ) from exc
    if len(ids) > MAX_IDS:
        raise HttpError(
            400,
            {"error": "TooManyValues", "description": f"Too many ids: the maximum is {MAX_IDS}"},
        )
    return ids


def _cursor_page(
    context: _Context,
    items: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], tuple[Any, ...]],
    *,
    max_size: int = MAX_PAGE_SIZE,
    default_size: int = MAX_PAGE_SIZE,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Cursor pagination over `items` (already sorted by `key`): (page, meta, links)."""
    size = _int_param(context.query, "page[size]", default_size, max_size)
    after = context.query.get("page[after]")
    before = context.query.get("page[before]")
    if after:
        after_key = _decode_cursor(after)
        remaining = [item for item in items if list(key(item)) > list(after_key)]
        page, has_more = remaining[:size], len(remaining) > size
    elif before:
        before_key = _decode_cursor(before)
        preceding = [item for item in items if list(key(item)) < list(before_key)]
        page, has_more = preceding[-size:], len(preceding) > size
    else:
        page, has_more = items[:size], len(items) > size
    after_cursor = _encode_cursor(key(page[-1])) if page else None
    before_cursor = _encode_cursor(key(page[0])) if page else None
    keep = {name: value for name, value in context.query.items() if not name.startswith("page[")}

    def link(cursor_name: str, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        params = {**keep, "page[size]": str(size), cursor_name: cursor}
        return f"{context.base_url}{context.path}?{urlencode(params)}"

    meta = {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor}
    links = {
        "next": link("page[after]", after_cursor) if has_more else None,
        "prev": link("page[before]", before_cursor),
    }
    return page, meta, links


def _offset_page(
    context: _Context, items: list[dict[str, Any]], *, max_per_page: int = MAX_PAGE_SIZE
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    per_page = _int_param(context.query, "per_page", max_per_page, max_per_page)
    page_number = _int_param(context.query, "page", 1, 10**9)
    start = (page_number - 1) * per_page
    page = items[start : start + per_page]

    def link(number: int) -> str:
        params = {**context.query, "page": str(number), "per_page": str(per_page)}
        return f"{context.base_url}{context.path}?{urlencode(params)}"

    more = start + per_page < len(items)
    return page, {
        "next_page": link(page_number + 1) if more else None,
        "previous_page": link(page_number - 1) if page_number > 1 else None,
        "count": len(items),
    }


def _wants_cursor(query: dict[str, str]) -> bool:
    return any(name.startswith("page[") for name in query)


class HandlerBase:
    """Endpoint logic; every method runs under the simulator lock."""

    def __init__(self, sim: ZendeskSimulator) -> None:
        self.sim = sim

    def _ticket_or_404(self, ticket_id: int) -> dict[str, Any]:
        ticket = self.sim.tickets.get(ticket_id)
        if ticket is None:
            raise HttpError(404, NOT_FOUND)
        return ticket
