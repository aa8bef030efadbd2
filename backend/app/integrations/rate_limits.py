"""Upstream rate limits shared by every process: one budget per Zendesk account and per LLM
key, paced with GCRA (a token bucket kept as one "theoretical arrival time" per budget).

With `REDIS_URL` the state lives in Redis and one Lua script reserves a slot atomically for
the API and every worker process, with Redis's clock; without it (the embedded default: one
API and one worker on SQLite) each process keeps its own state.

Why not a library: `limits` answers allow/deny per window (bursts at window edges, no "when
may I go" for a call that must wait, and its moving window logs one entry per unit of cost,
i.e. a million entries for a million tokens a minute); `pyrate-limiter`'s Redis bucket also
stores one sorted-set member per unit of weight. GCRA keeps two numbers per budget, costs
O(1) whatever the weight (tokens), and gives callers the exact wait to sleep.

A budget of `limit` a minute is paced so that no 60-second window holds more than
`limit * (1 - margin)`: a burst of `burst_s` seconds' worth, then an even rate. Callers reserve
their slot and sleep until it; tokens are reserved from an estimate and the difference
refunded once the upstream reports what was used. Limits learned from the upstream's headers
replace the configured ones for every process.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import redis

logger = logging.getLogger(__name__)

REQUESTS = "requests"
TOKENS = "tokens"
KEY_PREFIX = "upstream-limit:"
STATE_TTL_S = 3600
DEFAULT_MARGIN = 0.03
DEFAULT_BURST_S = 0.5
DEFAULT_MAX_WAIT_S = 60.0
FALLBACK_RETRY_S = 5.0  # after a Redis failure, limit in-process this long before retrying

Result = TypeVar("Result")

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local margin = tonumber(ARGV[1])
local burst_s = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
local start = math.max(now, paused)
local wait = start - now
local taking = false
local tats = {}
for i, key in ipairs(KEYS) do
  local cost = tonumber(ARGV[2 + 2 * i])
  local limit = tonumber(redis.call('HGET', key, 'limit')) or tonumber(ARGV[3 + 2 * i])
  tats[i] = false
  if cost > 0 then
    taking = true
  end
  if limit > 0 and cost ~= 0 then
    local burst = math.max(1, limit * burst_s / 60)
    local interval = 60 / math.max(limit * (1 - margin) - burst, limit / 2)
    local tat = tonumber(redis.call('HGET', key, 'tat')) or now
    if cost > 0 then
      tat = math.max(tat, start) + math.min(cost, limit) * interval
      wait = math.max(wait, tat - burst * interval - now)
    else
      tat = math.max(tat + cost * interval, now)
    end
    tats[i] = tat
  end
end
if taking and wait > max_wait then
  return string.format('%.6f', -wait)
end
for i, key in ipairs(KEYS) do
  if tats[i] then
    redis.call('HSET', key, 'tat', string.format('%.6f', tats[i]))
    redis.call('EXPIRE', key, tonumber(ARGV[#ARGV]))
  end
end
if not taking then
  return '0'
end
return string.format('%.6f', wait)
"""

_PAUSE = """
local t = redis.call('TIME')
local until_s = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
if until_s > current then
  redis.call('HSET', KEYS[1], 'paused_until', string.format('%.6f', until_s))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 1
"""

_SET_LIMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit = tonumber(ARGV[1])
local used = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local burst_s = tonumber(ARGV[4])
local had = tonumber(redis.call('HGET', KEYS[1], 'limit')) or tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'limit', ARGV[1])
if had <= 0 and used > 0 then
  local burst = math.max(1, limit * burst_s / 60)
  local interval = 60 / math.max(limit * (1 - margin) - burst, limit / 2)
  local tat = math.max(tonumber(redis.call('HGET', KEYS[1], 'tat')) or now, now + used * interval)
  redis.call('HSET', KEYS[1], 'tat', string.format('%.6f', tat))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return 1
"""


class WaitTooLong(Exception):
    """The budget is taken (or paused) for longer than the caller is willing to wait."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"upstream rate limit: next slot in {wait_s:.1f}s")
        self.wait_s = wait_s


@dataclass(frozen=True)
class Pacing:
    margin: float = DEFAULT_MARGIN
    burst_s: float = DEFAULT_BURST_S
    max_wait_s: float = DEFAULT_MAX_WAIT_S


class Store(Protocol):
    def reserve(
        self,
        keys: Sequence[str],
        costs: Sequence[float],
        default_limits: Sequence[float],
        pacing: Pacing,
    ) -> float:
        """Reserve `costs` on every budget; the seconds to sleep, or minus the wait when it
        exceeds `pacing.max_wait_s` (then nothing is reserved). Negative costs refund."""
        ...

    def pause(self, key: str, seconds: float) -> None: ...

    def set_limit(
        self, key: str, per_minute: float, used: float, default: float, pacing: Pacing
    ) -> None:
        """Store a learned limit. When none was known (nor configured), what the upstream
        says is already used (sent before the limit was known) is charged to the budget."""
        ...

    def learned_limit(self, key: str) -> float | None: ...


class RedisStore:
    """Budgets in Redis, shared by every process that uses the same database."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._reserve = client.register_script(_RESERVE)
        self._pause = client.register_script(_PAUSE)
        self._set_limit = client.register_script(_SET_LIMIT)

    def reserve(
        self,
        keys: Sequence[str],
        costs: Sequence[float],
        default_limits: Sequence[float],
        pacing: Pacing,
    ) -> float:
        args: list[float | int] = [pacing.margin, pacing.burst_s, pacing.max_wait_s]
        for cost, limit in zip(costs, default_limits, strict=True):
            args += [cost, limit]
        args.append(STATE_TTL_S)
        return float(self._reserve(keys=list(keys), args=args))

    def pause(self, key: str, seconds: float) -> None:
        self._pause(keys=[key], args=[seconds, STATE_TTL_S])

    def set_limit(
        self, key: str, per_minute: float, used: float, default: float, pacing: Pacing
    ) -> None:
        args = [per_minute, used, pacing.margin, pacing.burst_s, default, STATE_TTL_S]
        self._set_limit(keys=[key], args=args)

    def learned_limit(self, key: str) -> float | None:
        value = self.client.hget(key, "limit")
        return float(value) if value is not None else None


@dataclass
class _Budget:
    tat: float = 0.0
    paused_until: float = 0.0
    limit: float | None = None


class MemoryStore:
    """The same pacing inside one process (the embedded default has no Redis)."""

    def __init__(self) -> None:
        self._budgets: dict[str, _Budget] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._budgets.clear()

    def _budget(self, key: str) -> _Budget:
        return self._budgets.setdefault(key, _Budget())

    def reserve(
        self,
        keys: Sequence[str],
        costs: Sequence[float],
        default_limits: Sequence[float],
        pacing: Pacing,
    ) -> float:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._budget(keys[0]).paused_until)
            wait = start - now
            taking = False
            tats: list[float | None] = []
            for key, cost, default in zip(keys, costs, default_limits, strict=True):
                budget = self._budget(key)
                taking = taking or cost > 0
                limit = budget.limit if budget.limit is not None else default
                if limit <= 0 or cost == 0:
                    tats.append(None)
                    continue
                burst = max(1.0, limit * pacing.burst_s / 60)
                interval = 60 / max(limit * (1 - pacing.margin) - burst, limit / 2)
                tat = budget.tat or now
                if cost > 0:
                    tat = max(tat, start) + min(cost, limit) * interval
                    wait = max(wait, tat - burst * interval - now)
                else:
                    tat = max(tat + cost * interval, now)
                tats.append(tat)
            if taking and wait > pacing.max_wait_s:
                return -wait
            for key, tat in zip(keys, tats, strict=True):
                if tat is not None:
                    self._budget(key).tat = tat
            return wait if taking else 0.0

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            budget = self._budget(key)
            budget.paused_until = max(budget.paused_until, time.monotonic() + seconds)

    def set_limit(
        self, key: str, per_minute: float, used: float, default: float, pacing: Pacing
    ) -> None:
        with self._lock:
            budget = self._budget(key)
            had = budget.limit if budget.limit is not None else default
            budget.limit = float(per_minute)
            if had <= 0 and used > 0:
                burst = max(1.0, per_minute * pacing.burst_s / 60)
                interval = 60 / max(per_minute * (1 - pacing.margin) - burst, per_minute / 2)
                now = time.monotonic()
                budget.tat = max(budget.tat or now, now + used * interval)

    def learned_limit(self, key: str) -> float | None:
        with self._lock:
            return self._budget(key).limit


@dataclass(frozen=True)
class Observed:
    """What one upstream response said about the budgets (None: not said)."""

    requests_limit: float | None = None
    requests_remaining: float | None = None
    requests_reset_s: float | None = None
    tokens_limit: float | None = None
    tokens_remaining: float | None = None
    tokens_reset_s: float | None = None
    retry_after_s: float | None = None


class UpstreamLimiter:
    """The request (and token) budgets of one upstream account, shared through `store`.

    A limit of 0 or None is "not known yet": no pacing on that budget until an upstream
    response tells it."""

    def __init__(
        self,
        upstream: str,
        account_key: str,
        store: Store,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        pacing: Pacing | None = None,
    ) -> None:
        digest = hashlib.sha256(account_key.encode()).hexdigest()[:32]
        self.key_prefix = f"{KEY_PREFIX}{upstream}:{digest}:"
        self.keys = (self.key_prefix + REQUESTS, self.key_prefix + TOKENS)
        self.store = store
        self.defaults = (float(requests_per_minute or 0), float(tokens_per_minute or 0))
        self.pacing = pacing or Pacing()
        self._known: dict[str, tuple[float, float]] = {}  # key -> (limit, when written)
        self._fallback: MemoryStore | None = None
        self._fallback_until = 0.0

    def acquire(self, *, requests: int = 1, tokens: int = 0) -> float:
        """Reserve the next slot and sleep until it; returns the seconds waited. Raises
        WaitTooLong (reserving nothing) when the wait would exceed `pacing.max_wait_s`."""
        wait_s = self._call_reserve((float(requests), float(tokens)))
        if wait_s < 0:
            raise WaitTooLong(-wait_s)
        if wait_s > 0:
            time.sleep(wait_s)
        return wait_s

    def settle_tokens(self, reserved: int, used: int) -> None:
        """Correct a reservation made from an estimate once the upstream reports the tokens
        used: give back what was not used, charge (without waiting) what was used beyond."""
        if used != reserved:  # a charge makes a later caller wait, not this one
            self._call_reserve((0.0, float(used - reserved)))

    def pause_for(self, seconds: float) -> None:
        """Hold every caller of this account back (a 429 applies to the whole account)."""
        if seconds > 0:
            self._guarded(lambda store: store.pause(self.keys[0], seconds))

    def learned_limits(self) -> tuple[float | None, float | None]:
        return (
            self._guarded(lambda store: store.learned_limit(self.keys[0])),
            self._guarded(lambda store: store.learned_limit(self.keys[1])),
        )

    def learn(self, observed: Observed) -> None:
        """Pace to what the upstream said: its limits; a pause until its reset when nothing
        remains, or until one burst has refilled when less remains (someone else is using the
        same account); `Retry-After`."""
        budgets = (
            (self.keys[0], observed.requests_limit, observed.requests_remaining,
             observed.requests_reset_s, self.defaults[0]),
            (self.keys[1], observed.tokens_limit, observed.tokens_remaining,
             observed.tokens_reset_s, self.defaults[1]),
        )  # fmt: skip
        pause_s = observed.retry_after_s or 0.0
        for key, limit, remaining, reset_s, default in budgets:
            if limit is not None and limit > 0:
                used = limit - remaining if remaining is not None else 0.0
                self._remember_limit(key, limit, max(0.0, used), default)
            known = limit if limit is not None and limit > 0 else default
            if remaining is None or known <= 0:
                continue
            low_water = max(1.0, known * self.pacing.burst_s / 60)
            if remaining <= 0:
                pause_s = max(pause_s, reset_s if reset_s is not None else 60 / known)
            elif remaining < low_water:
                refill_s = 60 * (low_water - remaining) / known
                pause_s = max(pause_s, min(reset_s, refill_s) if reset_s else refill_s)
        self.pause_for(pause_s)

    def _remember_limit(self, key: str, limit: float, used: float, default: float) -> None:
        known = self._known.get(key)
        now = time.monotonic()
        if known is not None and known[0] == limit and now - known[1] < 60:
            return
        self._known[key] = (limit, now)
        self._guarded(lambda store: store.set_limit(key, limit, used, default, self.pacing))

    def _call_reserve(self, costs: tuple[float, float]) -> float:
        return self._guarded(
            lambda store: store.reserve(self.keys, costs, self.defaults, self.pacing)
        )

    def _guarded(self, action: Callable[[Store], Result]) -> Result:
        """Run on the shared store; when Redis fails, on this process's own state for a few
        seconds (a degraded but working limit) rather than failing the upstream call."""
        if self._fallback is not None and time.monotonic() < self._fallback_until:
            return action(self._fallback)
        try:
            return action(self.store)
        except redis.RedisError as exc:
            if self._fallback is None:
                self._fallback = MemoryStore()
            logger.warning("rate limits: Redis unavailable (%s); limiting in-process", exc)
            self._fallback_until = time.monotonic() + FALLBACK_RETRY_S
            return action(self._fallback)


# --- reading the upstreams' headers ------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration_s(value: str | None) -> float | None:
    """OpenAI's reset durations (`6m0s`, `20ms`, `1.5s`) or plain seconds, in seconds."""
    if not value:
        return None
    text = value.strip().lower()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def _number(headers: Mapping[str, str], *names: str) -> float | None:
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        try:
            number = float(value.strip())
        except ValueError:
            continue
        if number >= 0:
            return number
    return None


def from_zendesk_headers(headers: Mapping[str, str]) -> Observed:
    """`X-Rate-Limit` / `ratelimit-limit`, `X-Rate-Limit-Remaining` / `ratelimit-remaining`,
    `ratelimit-reset` (seconds) and `Retry-After` (seconds)."""
    return Observed(
        requests_limit=_number(headers, "x-rate-limit", "ratelimit-limit"),
        requests_remaining=_number(headers, "x-rate-limit-remaining", "ratelimit-remaining"),
        requests_reset_s=_number(headers, "ratelimit-reset"),
        retry_after_s=_number(headers, "retry-after"),
    )


def from_openai_headers(headers: Mapping[str, str]) -> Observed:
    """`x-ratelimit-{limit,remaining,reset}-{requests,tokens}` and `retry-after(-ms)`."""
    retry_after_ms = _number(headers, "retry-after-ms")
    return Observed(
        requests_limit=_number(headers, "x-ratelimit-limit-requests"),
        requests_remaining=_number(headers, "x-ratelimit-remaining-requests"),
        requests_reset_s=parse_duration_s(headers.get("x-ratelimit-reset-requests")),
        tokens_limit=_number(headers, "x-ratelimit-limit-tokens"),
        tokens_remaining=_number(headers, "x-ratelimit-remaining-tokens"),
        tokens_reset_s=parse_duration_s(headers.get("x-ratelimit-reset-tokens")),
        retry_after_s=(
            retry_after_ms / 1000 if retry_after_ms is not None else _number(headers, "retry-after")
        ),
    )


# --- one store per process ---------------------------------------------------------------

_stores: dict[str | None, Store] = {}
_stores_lock = threading.Lock()


def shared_store(redis_url: str | None = None) -> Store:
    """The store of this process: Redis when `redis_url` (default: the settings') is set,
    else in-process."""
    if redis_url is None:
        from app.config import get_settings

        redis_url = get_settings().redis_url or None
    with _stores_lock:
        store = _stores.get(redis_url)
        if store is None:
            if redis_url:
                client = redis.Redis.from_url(
                    redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
                )
                store = RedisStore(client)
            else:
                store = MemoryStore()
            _stores[redis_url] = store
        return store


def clear_local_state() -> None:
    """Forget the in-process budgets (tests); Redis budgets expire on their own."""
    with _stores_lock:
        for store in _stores.values():
            if isinstance(store, MemoryStore):
                store.clear()
