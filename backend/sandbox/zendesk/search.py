"""Zendesk's search query language over the simulator's tickets."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.zendesk.common import PRIORITY_ORDER, STATUS_ORDER, TICKET_TYPES, _utcnow, parse_iso

# --- search query language ---------------------------------------------------------------

_TOKEN_RE = re.compile(r'-?[\w.]+(?::|<=|>=|<|>)"[^"]*"|-?[\w.]+(?::|<=|>=|<|>)\S+|-?"[^"]*"|\S+')
_FILTER_RE = re.compile(r"^(-?)([\w.]+)(:|<=|>=|<|>)(.*)$")
_RELATIVE_RE = re.compile(r"^(\d+)(minute|hour|day|week|month|year)s?$")
_RELATIVE_UNITS = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}
_ORDERED_FIELDS = {"status": STATUS_ORDER, "priority": PRIORITY_ORDER}
_EQUALITY_FIELDS = {
    "tags": "tags",
    "tag": "tags",
    "ticket_type": "type",
    "assignee": "assignee_id",
    "assignee_id": "assignee_id",
    "group": "group_id",
    "group_id": "group_id",
    "requester": "requester_id",
    "requester_id": "requester_id",
    "id": "id",
}
_DATE_FIELDS = {"created": "created_at", "updated": "updated_at"}
_SORT_FIELDS = {"created_at", "updated_at", "priority", "status", "ticket_type"}


@dataclass
class _SearchQuery:
    object_types: set[str] = field(default_factory=set)
    any_of: dict[str, list[Callable[[dict[str, Any]], bool]]] = field(default_factory=dict)
    all_of: list[Callable[[dict[str, Any], str, set[str]], bool]] = field(default_factory=list)
    order_by: str | None = None
    descending: bool = True

    @classmethod
    def parse(cls, query: str) -> _SearchQuery:
        parsed = cls()
        for token in _TOKEN_RE.findall(query):
            match = _FILTER_RE.match(token)
            if match and not token.startswith('"'):
                negate, key, op, value = match.groups()
                key = key.lower()
                value = value.strip('"')
                if parsed._add_filter(key, op, value, negate == "-"):
                    continue
            parsed._add_text(token)
        return parsed

    def _add_filter(self, key: str, op: str, value: str, negate: bool) -> bool:
        if key == "type" and op == ":":
            if value.lower() in TICKET_TYPES:  # `type:incident` also means ticket type
                return self._add_filter("ticket_type", op, value, negate)
            self.object_types.add(value.lower())
            return True
        if key == "order_by" and op == ":":
            self.order_by = value if value in _SORT_FIELDS else None
            return True
        if key == "sort" and op == ":":
            self.descending = value.lower() != "asc"
            return True
        if key in _ORDERED_FIELDS:
            order = _ORDERED_FIELDS[key]
            if value.lower() not in order:
                self._add_predicate(key, lambda _t: False, negate)
                return True
            rank = order.index(value.lower())
            compare = _comparison(op)
            self._add_predicate(
                key,
                lambda t, key=key, order=order: (
                    t.get(key) in order and compare(order.index(t[key]), rank)
                ),
                negate,
            )
            return True
        if key in _EQUALITY_FIELDS and op == ":":
            attribute = _EQUALITY_FIELDS[key]
            expected: Any = value.lower()
            if attribute == "tags":
                self._add_predicate(key, lambda t, tag=expected: tag in t["tags"], negate)
            elif expected == "none":
                self._add_predicate(key, lambda t, a=attribute: t.get(a) is None, negate)
            elif attribute == "type":
                self._add_predicate(key, lambda t, v=expected: t.get("type") == v, negate)
            else:
                self._add_predicate(
                    key, lambda t, a=attribute, v=expected: str(t.get(a)) == v, negate
                )
            return True
        if key in _DATE_FIELDS:
            predicate = _date_predicate(_DATE_FIELDS[key], op, value)
            if predicate is None:
                return False
            self._add_predicate(key, predicate, negate)
            return True
        if key in {"subject", "description"} and op == ":":
            words = _words(value)
            self.all_of.append(
                lambda t, _text, _words_, k=key, w=words, n=negate: (
                    (w <= _words(str(t.get(k) or ""))) != n
                )
            )
            return True
        return False

    def _add_predicate(
        self, key: str, predicate: Callable[[dict[str, Any]], bool], negate: bool
    ) -> None:
        if negate:
            self.all_of.append(lambda t, _text, _words_, p=predicate: not p(t))
        else:
            self.any_of.setdefault(key, []).append(predicate)

    def _add_text(self, token: str) -> None:
        negate = token.startswith("-") and len(token) > 1
        term = token[1:] if negate else token
        if term.startswith('"') and term.endswith('"') and len(term) >= 2:
            phrase = term[1:-1].lower()
            self.all_of.append(lambda _t, text, _w, p=phrase, n=negate: (p in text) != n)
            return
        for word in _words(term):
            if term.endswith("*"):
                self.all_of.append(
                    lambda _t, _text, words, w=word, n=negate: (
                        any(candidate.startswith(w) for candidate in words) != n
                    )
                )
            else:
                self.all_of.append(lambda _t, _text, words, w=word, n=negate: (w in words) != n)

    def matches(
        self,
        ticket: dict[str, Any],
        comments: list[dict[str, Any]],
        users: dict[int, dict[str, Any]],
    ) -> bool:
        for predicates in self.any_of.values():
            if not any(predicate(ticket) for predicate in predicates):
                return False
        if not self.all_of:
            return True
        parts = [ticket.get("subject") or "", *(comment["body"] for comment in comments)]
        text = "\n".join(parts).lower()
        words = _words(text)
        return all(predicate(ticket, text, words) for predicate in self.all_of)

    def sort(self, tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        order_by = self.order_by or "updated_at"

        def key(ticket: dict[str, Any]) -> tuple[Any, int]:
            if order_by == "priority":
                value: Any = PRIORITY_ORDER.index(ticket["priority"]) if ticket["priority"] else -1
            elif order_by == "status":
                value = STATUS_ORDER.index(ticket["status"])
            elif order_by == "ticket_type":
                value = ticket.get("type") or ""
            else:
                value = ticket[order_by]
            return value, ticket["id"]

        return sorted(tickets, key=key, reverse=self.descending)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _comparison(op: str) -> Callable[[Any, Any], bool]:
    return {
        ":": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }[op]


def _date_predicate(attribute: str, op: str, value: str) -> Callable[[dict[str, Any]], bool] | None:
    relative = _RELATIVE_RE.match(value.lower())
    if relative:
        moment = _utcnow() - int(relative.group(1)) * _RELATIVE_UNITS[relative.group(2)]
        # `created>4hours`: newer than four hours ago; `created<4hours`: older.
        compare = _comparison(op if op != ":" else ">=")
        return lambda t: compare(parse_iso(t[attribute]), moment)
    try:
        if len(value) == 10:
            day_start = datetime.fromisoformat(value).replace(tzinfo=UTC)
            day_end = day_start + timedelta(days=1)
            bounds = {
                ":": lambda m: day_start <= m < day_end,
                ">": lambda m: m >= day_end,
                ">=": lambda m: m >= day_start,
                "<": lambda m: m < day_start,
                "<=": lambda m: m < day_end,
            }[op]
            return lambda t: bounds(parse_iso(t[attribute]))
        moment = parse_iso(value)
    except ValueError:
        return None
    compare = _comparison(op)
    return lambda t: compare(parse_iso(t[attribute]), moment)


class SearchMixin:
    """Search over stored tickets (part of ZendeskSimulator)."""

    def _searchable(self, ticket_id: int) -> bool:
        return self._indexed_at.get(ticket_id, 0.0) <= time.monotonic()

    def _search(
        self,
        query: str,
        *,
        object_type: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> list[dict[str, Any]]:
        """Matching tickets; `sort_by`/`sort_order` (the API's parameters) win over the
        query's `order_by:`/`sort:` as in Zendesk; unknown values keep the default."""
        parsed = _SearchQuery.parse(query)
        if sort_by in _SORT_FIELDS:
            parsed.order_by = sort_by
        if sort_order in {"asc", "desc"}:
            parsed.descending = sort_order == "desc"
        if object_type is not None:
            parsed.object_types.add(object_type)
        if parsed.object_types and parsed.object_types != {"ticket"}:
            return []
        hits = [
            ticket
            for ticket_id, ticket in self.tickets.items()
            if self._searchable(ticket_id)
            and parsed.matches(ticket, self.comments.get(ticket_id, []), self.users)
        ]
        return parsed.sort(hits)
