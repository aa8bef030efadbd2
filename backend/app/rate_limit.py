"""Login attempt limits, per email and per client address.

Each try counts against both keys before the password is checked (so parallel guesses
cannot slip past the limit); a successful login gives its try back, so only failures use
up the budget. With Redis configured the counters are shared by every API process (a fixed
window: INCR, and EXPIRE on the first hit, in one Lua script); without it, or while Redis
cannot be reached, a sliding window in this process's memory takes over.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from app.errors import TooManyRequests

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 60
REDIS_RETRY_AFTER_FAILURE_S = 5.0

# KEYS: the counters; ARGV[1]: the window. Returns, per key, the count and the seconds left.
_HIT_SCRIPT = """
local result = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if ttl < 0 then
    redis.call('EXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
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
class Hit:
    """The state of one key after a try: how many tries so far, seconds until they expire."""

    count: int
    reset_in_s: float


class MemoryWindow:
    """Sliding window of try times per key, for one process."""

    def __init__(self, window_s: int = DEFAULT_WINDOW_S) -> None:
        self.window_s = window_s
        self._tries: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()

    def hit(self, keys: list[str], limit: int) -> list[Hit]:
        """Record a try on every key unless one is already at the limit."""
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            windows = [self._window(key, now) for key in keys]
            blocked = any(len(window) >= limit for window in windows)
            hits = []
            for window in windows:
                if not blocked:
                    window.append(now)
                count = len(window) + (1 if blocked else 0)
                reset_in_s = window[0] + self.window_s - now if window else self.window_s
                hits.append(Hit(count=count, reset_in_s=reset_in_s))
            return hits

    def forgive(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                window = self._tries.get(key)
                if window:
                    window.pop()

    def _window(self, key: str, now: float) -> deque[float]:
        window = self._tries.setdefault(key, deque())
        while window and window[0] <= now - self.window_s:
            window.popleft()
        return window

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self.window_s:
            return
        self._last_sweep = now
        expired = now - self.window_s
        for key in [key for key, tries in self._tries.items() if not tries or tries[-1] <= expired]:
            del self._tries[key]


class RedisWindow:
    """Fixed window counters in Redis, shared by every process."""

    def __init__(self, redis_url: str, window_s: int = DEFAULT_WINDOW_S) -> None:
        import redis

        self.window_s = window_s
        self.client = redis.Redis.from_url(
            redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        self._hit = self.client.register_script(_HIT_SCRIPT)
        self._forgive = self.client.register_script(_FORGIVE_SCRIPT)

    def hit(self, keys: list[str], limit: int) -> list[Hit]:
        values = self._hit(keys=keys, args=[self.window_s])
        return [
            Hit(count=int(values[i]), reset_in_s=float(values[i + 1]))
            for i in range(0, len(values), 2)
        ]

    def forgive(self, keys: list[str]) -> None:
        self._forgive(keys=keys)


@dataclass(frozen=True)
class LoginAttempt:
    keys: list[str]


class LoginRateLimiter:
    """`limit` tries a minute per email and per client address; 429 with Retry-After."""

    def __init__(
        self,
        limit: int,
        *,
        redis_url: str | None = None,
        window_s: int = DEFAULT_WINDOW_S,
        prefix: str = "triage:login:",
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.prefix = prefix
        self.memory = MemoryWindow(window_s)
        self.redis = RedisWindow(redis_url, window_s) if redis_url else None
        self._redis_down_until = 0.0

    def keys_for(self, *, email: str, client_address: str | None) -> list[str]:
        """Hashed, so neither emails nor addresses are stored in Redis."""
        email_digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        address_digest = hashlib.sha256((client_address or "unknown").encode()).hexdigest()[:32]
        return [f"{self.prefix}email:{email_digest}", f"{self.prefix}addr:{address_digest}"]

    def check(self, *, email: str, client_address: str | None) -> LoginAttempt:
        """Count a try; raise TooManyRequests when the email or the address is over the limit."""
        keys = self.keys_for(email=email, client_address=client_address)
        hits = self._call("hit", keys, self.limit)
        over = [hit for hit in hits if hit.count > self.limit]
        if over:
            retry_after = max(1, math.ceil(max(hit.reset_in_s for hit in over)))
            raise TooManyRequests(
                "Too many login attempts; try again later",
                headers={"Retry-After": str(retry_after)},
                details={"retry_after_s": retry_after},
            )
        return LoginAttempt(keys=keys)

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
