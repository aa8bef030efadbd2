"""A few seconds' memory of each user's rendered reports, per process.

The dashboard runs eight queries and validates a large response; a user (or a wall screen)
reloading it within `ttl_s` gets the same answer from memory. Analyses, tickets and rollups
flushed in this process forget their user's reports at once; what another process wrote is
seen at most `ttl_s` later.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Hashable, Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.models import SystemMetrics, Ticket, TicketAnalysis

MAX_ENTRIES = 10_000
_caches: weakref.WeakSet[ReportCache] = weakref.WeakSet()


class ReportCache:
    """(user id, key) -> (report, valid until); `ttl_s` 0 turns it off."""

    def __init__(self, ttl_s: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[tuple[int, Hashable], tuple[Any, float]] = {}
        _caches.add(self)

    def get(self, user_id: int, key: Hashable) -> Any | None:
        entry = self._entries.get((user_id, key))
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            self._entries.pop((user_id, key), None)
            return None
        return entry[0]

    def put(self, user_id: int, key: Hashable, report: Any) -> None:
        """Remember `report` (never modified afterwards) for ttl_s."""
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            for stale in [k for k, (_, until) in list(self._entries.items()) if until <= now]:
                self._entries.pop(stale, None)
            while len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)), None)
        self._entries[(user_id, key)] = (report, time.monotonic() + self.ttl_s)

    def forget_user(self, user_id: int) -> None:
        for stale in [k for k in list(self._entries) if k[0] == user_id]:
            self._entries.pop(stale, None)


REPORTED = (TicketAnalysis, Ticket, SystemMetrics)


@event.listens_for(Session, "after_flush")
def _forget_flushed_reports(session: Session, _context: Any) -> None:
    users = {
        instance.user_id
        for instance in (*session.new, *session.dirty, *session.deleted)
        if isinstance(instance, REPORTED)
    }
    forget_users(users)


def forget_users(user_ids: Iterable[int]) -> None:
    """Forget the users' reports in every cache of this process (after a write)."""
    for user_id in set(user_ids):
        for cache in list(_caches):
            cache.forget_user(user_id)
