"""Login throttling that cannot be used to lock a victim out (as OWASP advises), and the
bound on synchronous upstream work in flight (ProcessingLimiter, at the end).

Three counters per try, all keyed by hashes (neither emails nor addresses are stored):
- the (email, client address) pair: `pair_limit` tries a minute, then 429 for that pair
  only; the account's owner, from another address, still gets in;
- the client address, across emails: `address_limit` tries a minute, then 429 (guessing
  many accounts from one place);
- the email, across addresses, over `slow_window_s`: never refuses, but beyond `slow_after`
  tries every further login for that email waits, doubling up to `slow_max_s` (guessing one
  account from many places gets slow).

Each try counts before the password is checked (parallel guesses cannot slip past a
limit); a successful login gives its try back, so only failures use up the budget. With
Redis configured the counters are shared by every API process (fixed windows, one Lua
script); without it, or while Redis cannot be reached, sliding windows in this process's
memory take over.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from app.errors import ServiceUnavailable, TooManyRequests

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 60
REDIS_RETRY_AFTER_FAILURE_S = 5.0

# KEYS: the counters; ARGV: per key, its window and its limit (0: none). Nothing is counted
# when a limited key is already at its limit. Returns whether the try was refused, then per
# key the count (this try included) and the seconds until the window ends.
_HIT_SCRIPT = """
local refused = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  if limit > 0 and tonumber(redis.call('GET', key) or '0') >= limit then
    refused = 1
  end
end
local result = {refused}
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i - 1])
  local count
  if refused == 0 then
    count = redis.call('INCR', key)
    if redis.call('TTL', key) < 0 then
      redis.call('EXPIRE', key, window)
    end
  else
    count = tonumber(redis.call('GET', key) or '0') + 1
  end
  local ttl = redis.call('TTL', key)
  if ttl < 0 then
    ttl = window
  end
  result[#result + 1] = count
  result[#result + 1] = ttl
end
return result
"""
_FORGIVE_SCRIPT = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and tonumber(redis.call('GET', key)) > 0 then
    redis.call('DECR', key)
  end
end
return 0
"""


@dataclass(frozen=True)
class Counter:
    """One key to count a try against: its window and its limit (None: count only)."""

    key: str
    window_s: int
    limit: int | None


@dataclass(frozen=True)
class Hit:
    """The state of one key after a try: how many tries so far, seconds until they expire."""

    count: int
    reset_in_s: float


class MemoryWindow:
    """Sliding windows of try times per key, for one process."""

    def __init__(self) -> None:
        self._tries: dict[str, deque[float]] = {}
        self._windows: dict[str, int] = {}
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()

    def hit(self, counters: list[Counter]) -> list[Hit]:
        """Record a try on every key unless a limited one is already at its limit."""
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            windows = [self._window(counter, now) for counter in counters]
            refused = any(
                counter.limit is not None and len(window) >= counter.limit
                for counter, window in zip(counters, windows, strict=True)
            )
            hits = []
            for counter, window in zip(counters, windows, strict=True):
                if not refused:
                    window.append(now)
                count = len(window) + (1 if refused else 0)
                reset_in_s = window[0] + counter.window_s - now if window else counter.window_s
                hits.append(Hit(count=count, reset_in_s=reset_in_s))
            return hits

    def forgive(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                window = self._tries.get(key)
                if window:
                    window.pop()

    def _window(self, counter: Counter, now: float) -> deque[float]:
        window = self._tries.setdefault(counter.key, deque())
        self._windows[counter.key] = counter.window_s
        while window and window[0] <= now - counter.window_s:
            window.popleft()
        return window

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < DEFAULT_WINDOW_S:
            return
        self._last_sweep = now
        for key in [
            key
            for key, tries in self._tries.items()
            if not tries or tries[-1] <= now - self._windows.get(key, DEFAULT_WINDOW_S)
        ]:
            del self._tries[key]
            self._windows.pop(key, None)


class RedisWindow:
    """Fixed window counters in Redis, shared by every process."""

    def __init__(self, redis_url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(
            redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        self._hit = self.client.register_script(_HIT_SCRIPT)
        self._forgive = self.client.register_script(_FORGIVE_SCRIPT)

    def hit(self, counters: list[Counter]) -> list[Hit]:
        args: list[int] = []
        for counter in counters:
            args += [counter.window_s, counter.limit or 0]
        values = self._hit(keys=[counter.key for counter in counters], args=args)
        return [
            Hit(count=int(values[i]), reset_in_s=float(values[i + 1]))
            for i in range(1, len(values), 2)
        ]

    def forgive(self, keys: list[str]) -> None:
        self._forgive(keys=keys)


@dataclass(frozen=True)
class LoginAttempt:
    keys: list[str]
    delay_s: float  # how long to make this try wait before the password is checked


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class LoginRateLimiter:
    """Pair and address limits (429 with Retry-After) and per-email slowing; see above."""

    def __init__(
        self,
        pair_limit: int,
        *,
        address_limit: int | None = None,
        redis_url: str | None = None,
        window_s: int = DEFAULT_WINDOW_S,
        slow_after: int = 5,
        slow_window_s: int = 15 * 60,
        slow_base_s: float = 0.5,
        slow_max_s: float = 4.0,
        prefix: str = "triage:login:",
    ) -> None:
        self.pair_limit = pair_limit
        self.address_limit = address_limit or 3 * pair_limit
        self.window_s = window_s
        self.slow_after = slow_after
        self.slow_window_s = slow_window_s
        self.slow_base_s = slow_base_s
        self.slow_max_s = slow_max_s
        self.prefix = prefix
        self.memory = MemoryWindow()
        self.redis = RedisWindow(redis_url) if redis_url else None
        self._redis_down_until = 0.0

    def counters_for(self, *, email: str, client_address: str | None) -> list[Counter]:
        email_key = email.strip().lower()
        address = client_address or "unknown"
        return [
            Counter(
                f"{self.prefix}pair:{_digest(email_key + chr(0) + address)}",
                self.window_s,
                self.pair_limit,
            ),
            Counter(f"{self.prefix}addr:{_digest(address)}", self.window_s, self.address_limit),
            Counter(f"{self.prefix}email:{_digest(email_key)}", self.slow_window_s, None),
        ]

    def delay_for(self, tries_on_email: int) -> float:
        """No wait for the first `slow_after` tries, then base, 2 x base, ... up to the max."""
        beyond = tries_on_email - self.slow_after
        if beyond <= 0:
            return 0.0
        return min(self.slow_max_s, self.slow_base_s * 2.0 ** min(beyond - 1, 30))

    def check(self, *, email: str, client_address: str | None) -> LoginAttempt:
        """Count a try; raise TooManyRequests when the pair or the address is over its limit."""
        counters = self.counters_for(email=email, client_address=client_address)
        hits: list[Hit] = self._call("hit", counters)
        over = [
            hit
            for counter, hit in zip(counters, hits, strict=True)
            if counter.limit is not None and hit.count > counter.limit
        ]
        if over:
            retry_after = max(1, math.ceil(max(hit.reset_in_s for hit in over)))
            raise TooManyRequests(
                "Too many login attempts; try again later",
                headers={"Retry-After": str(retry_after)},
                details={"retry_after_s": retry_after},
            )
        return LoginAttempt(
            keys=[counter.key for counter in counters], delay_s=self.delay_for(hits[-1].count)
        )

    def succeeded(self, attempt: LoginAttempt) -> None:
        """A successful login does not use up the budget."""
        self._call("forgive", attempt.keys)

    def _call(self, method: str, *args: Any) -> Any:
        if self.redis is not None and time.monotonic() >= self._redis_down_until:
            try:
                return getattr(self.redis, method)(*args)
            except Exception as exc:  # any Redis failure: degrade, never fail the login
                self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_FAILURE_S
                logger.warning(
                    "login rate limit: Redis unavailable (%s); using in-memory counters",
                    type(exc).__name__,
                )
        return getattr(self.memory, method)(*args)


class ProcessingLimiter:
    """Synchronous upstream work in flight (processing a ticket, a connection test): at most
    `per_user` calls of one user (429) and `total` of everyone (503) in this process.

    Each such call holds a worker thread, and often a database connection, while Zendesk
    or the LLM answers, which may take a minute; without a bound, one tenant with a slow
    upstream takes every thread and connection and every other request waits.
    """

    def __init__(self, per_user: int, total: int, *, retry_after_s: int = 5) -> None:
        self.per_user = per_user
        self.total = total
        self.retry_after_s = retry_after_s
        self._by_user: dict[int, int] = {}
        self._in_flight = 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, user_id: int) -> Iterator[None]:
        headers = {"Retry-After": str(self.retry_after_s)}
        with self._lock:
            if self._by_user.get(user_id, 0) >= self.per_user:
                raise TooManyRequests(
                    f"You have {self.per_user} calls of this kind in progress; wait for one to "
                    "finish (or use POST /tickets/process-batch for many tickets)",
                    headers=headers,
                    details={"limit": self.per_user, "retry_after_s": self.retry_after_s},
                )
            if self._in_flight >= self.total:
                raise ServiceUnavailable(
                    "Too many calls of this kind are in progress; try again shortly",
                    headers=headers,
                    details={"retry_after_s": self.retry_after_s},
                )
            self._by_user[user_id] = self._by_user.get(user_id, 0) + 1
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                remaining = self._by_user[user_id] - 1
                if remaining:
                    self._by_user[user_id] = remaining
                else:
                    del self._by_user[user_id]
