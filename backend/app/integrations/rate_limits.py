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
refunded once the upstream reports what was used (carried by the process's next reservation
for the account: one Redis round trip per call, requests and tokens together). Limits learned
from the upstream's headers replace the configured ones for every process. The stores (Redis
and in-process) are in `app.integrations.rate_limit_stores`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import redis

from app.integrations.rate_limit_stores import (
    DEFAULT_BURST_S,
    DEFAULT_MARGIN,
    DEFAULT_MAX_WAIT_S,
    STATE_TTL_S,
    MemoryStore,
    Pacing,
    RedisStore,
    Store,
)

__all__ = [
    "DEFAULT_BURST_S",
    "DEFAULT_MARGIN",
    "DEFAULT_MAX_WAIT_S",
    "STATE_TTL_S",
    "MemoryStore",
    "Observed",
    "Pacing",
    "RedisStore",
    "Store",
    "UpstreamLimiter",
    "WaitTooLong",
    "clear_local_state",
    "from_openai_headers",
    "from_zendesk_headers",
    "parse_duration_s",
    "shared_store",
]

logger = logging.getLogger(__name__)

REQUESTS = "requests"
TOKENS = "tokens"
KEY_PREFIX = "upstream-limit:"
FALLBACK_RETRY_S = 5.0  # after a Redis failure, limit in-process this long before retrying
DEFAULT_SETTLE_WITHIN_S = 1.0  # token corrections wait at most this for a call to ride on

Result = TypeVar("Result")


class WaitTooLong(Exception):
    """The budget is taken (or paused) for longer than the caller is willing to wait."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"upstream rate limit: next slot in {wait_s:.1f}s")
        self.wait_s = wait_s


class _UnsettledTokens:
    """Token corrections (estimate vs used) not yet sent, per store and account: a process's
    analyzers come and go with each job, the account's budget stays."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: weakref.WeakKeyDictionary[Store, dict[str, tuple[float, float]]] = (
            weakref.WeakKeyDictionary()
        )

    def add(self, store: Store, account: str, tokens: float) -> float:
        """Add a correction; returns how long the oldest pending one has waited (s)."""
        now = time.monotonic()
        if not tokens:
            return 0.0
        with self._lock:
            accounts = self._pending.setdefault(store, {})
            pending, since = accounts.get(account, (0.0, now))
            accounts[account] = (pending + tokens, since)
        return now - since

    def take(self, store: Store, account: str) -> float:
        with self._lock:
            accounts = self._pending.get(store)
            pending, _ = accounts.pop(account, (0.0, 0.0)) if accounts else (0.0, 0.0)
        return pending

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()


_unsettled = _UnsettledTokens()


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
        settle_within_s: float = DEFAULT_SETTLE_WITHIN_S,
    ) -> None:
        digest = hashlib.sha256(account_key.encode()).hexdigest()[:32]
        self.key_prefix = f"{KEY_PREFIX}{upstream}:{digest}:"
        self.keys = (self.key_prefix + REQUESTS, self.key_prefix + TOKENS)
        self.store = store
        self.defaults = (float(requests_per_minute or 0), float(tokens_per_minute or 0))
        self.pacing = pacing or Pacing()
        self.settle_within_s = settle_within_s
        self._known: dict[str, tuple[float, float]] = {}  # key -> (limit, when written)
        self._fallback: MemoryStore | None = None
        self._fallback_until = 0.0

    def acquire(self, *, requests: int = 1, tokens: int = 0) -> float:
        """Reserve the next slot and sleep until it; returns the seconds waited. Raises
        WaitTooLong (reserving nothing) when the wait would exceed `pacing.max_wait_s`.
        Token corrections this process has not sent yet are settled in the same call."""
        correction = _unsettled.take(self.store, self.key_prefix)
        try:
            wait_s = self._call_reserve((float(requests), float(tokens)), correction)
        except BaseException:
            _unsettled.add(self.store, self.key_prefix, correction)
            raise
        if wait_s < 0:  # nothing was reserved, nor settled
            _unsettled.add(self.store, self.key_prefix, correction)
            raise WaitTooLong(-wait_s)
        if wait_s > 0:
            time.sleep(wait_s)
        return wait_s

    def reserve_many(self, tokens: Sequence[int]) -> list[float]:
        """Reserve a request (and its tokens) for each of several calls about to go out
        together, in one round trip rather than one each; nothing sleeps here. Returns each
        call's seconds to wait from now, in order, or minus the wait of a call refused for
        exceeding `pacing.max_wait_s` (nothing reserved for it). This process's pending
        token corrections are settled in the same step (kept when every call is refused)."""
        if not tokens:
            return []
        correction = _unsettled.take(self.store, self.key_prefix)
        corrections = (0.0, correction) if correction else None
        calls = [(1.0, float(count)) for count in tokens]
        try:
            waits = self._guarded(
                lambda store: store.reserve_many(
                    self.keys, calls, self.defaults, self.pacing, corrections
                )
            )
        except BaseException:
            _unsettled.add(self.store, self.key_prefix, correction)
            raise
        if all(wait < 0 for wait in waits):
            _unsettled.add(self.store, self.key_prefix, correction)
        return waits

    def settle_tokens(self, reserved: int, used: int) -> None:
        """Correct a reservation made from an estimate once the upstream reports the tokens
        used: give back what was not used, charge (without waiting) what was used beyond.

        The correction rides on this process's next `acquire` for the account (one Redis
        round trip per call instead of two); it is sent on its own only when corrections
        have waited `settle_within_s` (a quiet account), or by `settle_pending`."""
        if used == reserved:
            return
        waited = _unsettled.add(self.store, self.key_prefix, float(used - reserved))
        if waited >= self.settle_within_s:
            self.settle_pending()

    def settle_pending(self) -> None:
        """Send this process's pending token corrections for the account now."""
        correction = _unsettled.take(self.store, self.key_prefix)
        if correction:
            self._call_reserve((0.0, 0.0), correction)

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

    def _call_reserve(self, costs: tuple[float, float], tokens_correction: float = 0.0) -> float:
        corrections = (0.0, tokens_correction) if tokens_correction else None
        return self._guarded(
            lambda store: store.reserve(self.keys, costs, self.defaults, self.pacing, corrections)
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
    _unsettled.clear()
    with _stores_lock:
        for store in _stores.values():
            if isinstance(store, MemoryStore):
                store.clear()
