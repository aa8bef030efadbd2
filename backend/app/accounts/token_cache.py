"""A few seconds' memory of which user an access token authenticates, per process.

Every authenticated request used to decode its token and load its user: a query and a hop
to a worker thread, a good share of a read's cost. A cache hit answers from memory instead:
the user is a detached snapshot, merged into the request's session without SQL
(`Session.merge(load=False)`), so routes get an ordinary persistent `User`.

What a hit can miss is bounded by `ttl_s`: a change made by another process (a password
change that revokes tokens, a deleted or deactivated account, a new time zone) is seen here
at most that long after. Changes flushed in this process forget the user's entries at once.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, make_transient_to_detached

from app.models import User

MAX_ENTRIES = 10_000
_caches: weakref.WeakSet[TokenCache] = weakref.WeakSet()


class TokenCache:
    """Token -> (user snapshot, valid until); `ttl_s` 0 turns it off."""

    def __init__(self, ttl_s: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[User, float]] = {}
        _caches.add(self)

    def get(self, token: str) -> User | None:
        """The snapshot of the token's user, if seen less than ttl_s ago and not expired."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            self._entries.pop(token, None)
            return None
        return entry[0]

    def put(self, token: str, user: User, expires_at: float) -> None:
        """Remember `user` (loaded, unchanged) for `token`, which expires at `expires_at`
        (a Unix time): until then, and for at most ttl_s."""
        if self.ttl_s <= 0:
            return
        lifetime = min(self.ttl_s, expires_at - time.time())
        if lifetime <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._prune()
        self._entries[token] = (snapshot(user), time.monotonic() + lifetime)

    def forget_user(self, user_id: int) -> None:
        for token in [t for t, (user, _) in list(self._entries.items()) if user.id == user_id]:
            self._entries.pop(token, None)

    def _prune(self) -> None:
        now = time.monotonic()
        for token in [t for t, (_, until) in list(self._entries.items()) if until <= now]:
            self._entries.pop(token, None)
        while len(self._entries) >= self.max_entries:  # the oldest entries first
            self._entries.pop(next(iter(self._entries)), None)


def snapshot(user: User) -> User:
    """A detached copy of `user`'s column values, safe to share between requests: each one
    merges it into its own session."""
    values = {prop.key: getattr(user, prop.key) for prop in User.__mapper__.column_attrs}
    copy = User(**values)
    make_transient_to_detached(copy)
    return copy


def forget_user(user_id: int) -> None:
    """Drop the user's entries from every cache of this process (their row changed)."""
    for cache in list(_caches):
        cache.forget_user(user_id)


@event.listens_for(Session, "after_flush")
def _forget_flushed_users(session: Session, _context: Any) -> None:
    for instance in (*session.dirty, *session.deleted):
        if isinstance(instance, User) and instance.id is not None:
            forget_user(instance.id)
