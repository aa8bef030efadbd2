"""The state behind the upstream limiters (`app.integrations.rate_limits`): budgets kept in
Redis, reserved atomically by Lua scripts with Redis's clock and shared by every process, or
in one process's memory (the embedded default). Both pace the same way (GCRA: one
"theoretical arrival time" per budget)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis

STATE_TTL_S = 3600
DEFAULT_MARGIN = 0.03
DEFAULT_BURST_S = 0.5
DEFAULT_MAX_WAIT_S = 60.0

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
  local cost = tonumber(ARGV[1 + 3 * i])
  local limit = tonumber(redis.call('HGET', key, 'limit')) or tonumber(ARGV[2 + 3 * i])
  local correction = tonumber(ARGV[3 + 3 * i])
  tats[i] = false
  if cost > 0 then
    taking = true
  end
  if limit > 0 and (cost ~= 0 or correction ~= 0) then
    local burst = math.max(1, limit * burst_s / 60)
    local interval = 60 / math.max(limit * (1 - margin) - burst, limit / 2)
    local tat = tonumber(redis.call('HGET', key, 'tat')) or now
    if correction < 0 then
      tat = math.max(tat + correction * interval, now)
    elseif correction > 0 then
      tat = math.max(tat, now) + correction * interval
    end
    if cost > 0 then
      tat = math.max(tat, start) + math.min(cost, limit) * interval
      wait = math.max(wait, tat - burst * interval - now)
    elseif cost < 0 then
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

_RESERVE_MANY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local margin = tonumber(ARGV[1])
local burst_s = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local count = tonumber(ARGV[5])
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
local start = math.max(now, paused)
local limits, bursts, intervals, tats, touched = {}, {}, {}, {}, {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(redis.call('HGET', key, 'limit')) or tonumber(ARGV[4 + 2 * i])
  local correction = tonumber(ARGV[5 + 2 * i])
  limits[i] = limit
  touched[i] = false
  if limit > 0 then
    bursts[i] = math.max(1, limit * burst_s / 60)
    intervals[i] = 60 / math.max(limit * (1 - margin) - bursts[i], limit / 2)
    local tat = tonumber(redis.call('HGET', key, 'tat')) or now
    if correction < 0 then
      tat = math.max(tat + correction * intervals[i], now)
      touched[i] = true
    elseif correction > 0 then
      tat = math.max(tat, now) + correction * intervals[i]
      touched[i] = true
    end
    tats[i] = tat
  end
end
local first = 6 + 2 * #KEYS
local waits = {}
local reserved = false
for j = 1, count do
  local wait = start - now
  local taking = false
  local next_tats = {}
  for i = 1, #KEYS do
    local cost = tonumber(ARGV[first + (j - 1) * #KEYS + (i - 1)])
    next_tats[i] = tats[i]
    if cost > 0 then
      taking = true
    end
    if limits[i] > 0 and cost > 0 then
      next_tats[i] = math.max(tats[i], start) + math.min(cost, limits[i]) * intervals[i]
      wait = math.max(wait, next_tats[i] - bursts[i] * intervals[i] - now)
    end
  end
  if taking and wait > max_wait then
    waits[j] = string.format('%.6f', -wait)
  else
    reserved = true
    for i = 1, #KEYS do
      if next_tats[i] ~= tats[i] then
        tats[i] = next_tats[i]
        touched[i] = true
      end
    end
    waits[j] = taking and string.format('%.6f', wait) or '0'
  end
end
if reserved then
  for i, key in ipairs(KEYS) do
    if touched[i] then
      redis.call('HSET', key, 'tat', string.format('%.6f', tats[i]))
      redis.call('EXPIRE', key, tonumber(ARGV[4]))
    end
  end
end
return waits
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
        corrections: Sequence[float] | None = None,
    ) -> float:
        """Reserve `costs` on every budget; the seconds to sleep, or minus the wait when it
        exceeds `pacing.max_wait_s` (then nothing is reserved, corrections included).
        Negative costs refund. `corrections` settle earlier reservations first (negative:
        a refund, positive: a charge), in the same atomic step."""
        ...

    def reserve_many(
        self,
        keys: Sequence[str],
        calls: Sequence[Sequence[float]],
        default_limits: Sequence[float],
        pacing: Pacing,
        corrections: Sequence[float] | None = None,
    ) -> list[float]:
        """Reserve the costs of several calls, one after the other, in one atomic step (as
        that many `reserve`s at one instant would, costs of zero or more only): each call's
        seconds to sleep, or minus its wait when that exceeds `pacing.max_wait_s` (that one
        is not reserved). `corrections` are settled with the calls, and not at all when
        every call was refused."""
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
        self._reserve_many = client.register_script(_RESERVE_MANY)
        self._pause = client.register_script(_PAUSE)
        self._set_limit = client.register_script(_SET_LIMIT)

    def reserve(
        self,
        keys: Sequence[str],
        costs: Sequence[float],
        default_limits: Sequence[float],
        pacing: Pacing,
        corrections: Sequence[float] | None = None,
    ) -> float:
        args: list[float | int] = [pacing.margin, pacing.burst_s, pacing.max_wait_s]
        settles = corrections or (0.0,) * len(costs)
        for cost, limit, correction in zip(costs, default_limits, settles, strict=True):
            args += [cost, limit, correction]
        args.append(STATE_TTL_S)
        return float(self._reserve(keys=list(keys), args=args))

    def reserve_many(
        self,
        keys: Sequence[str],
        calls: Sequence[Sequence[float]],
        default_limits: Sequence[float],
        pacing: Pacing,
        corrections: Sequence[float] | None = None,
    ) -> list[float]:
        if not calls:
            return []
        args: list[float | int] = [pacing.margin, pacing.burst_s, pacing.max_wait_s]
        args += [STATE_TTL_S, len(calls)]
        settles = corrections or (0.0,) * len(keys)
        for limit, correction in zip(default_limits, settles, strict=True):
            args += [limit, correction]
        for costs in calls:
            args += list(costs)
        return [float(wait) for wait in self._reserve_many(keys=list(keys), args=args)]

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
        corrections: Sequence[float] | None = None,
    ) -> float:
        settles = corrections or (0.0,) * len(costs)
        with self._lock:
            now = time.monotonic()
            start = max(now, self._budget(keys[0]).paused_until)
            wait = start - now
            taking = False
            tats: list[float | None] = []
            for key, cost, default, correction in zip(
                keys, costs, default_limits, settles, strict=True
            ):
                budget = self._budget(key)
                taking = taking or cost > 0
                limit = budget.limit if budget.limit is not None else default
                if limit <= 0 or (cost == 0 and correction == 0):
                    tats.append(None)
                    continue
                burst = max(1.0, limit * pacing.burst_s / 60)
                interval = 60 / max(limit * (1 - pacing.margin) - burst, limit / 2)
                tat = budget.tat or now
                if correction < 0:
                    tat = max(tat + correction * interval, now)
                elif correction > 0:
                    tat = max(tat, now) + correction * interval
                if cost > 0:
                    tat = max(tat, start) + min(cost, limit) * interval
                    wait = max(wait, tat - burst * interval - now)
                elif cost < 0:
                    tat = max(tat + cost * interval, now)
                tats.append(tat)
            if taking and wait > pacing.max_wait_s:
                return -wait
            for key, tat in zip(keys, tats, strict=True):
                if tat is not None:
                    self._budget(key).tat = tat
            return wait if taking else 0.0

    def reserve_many(
        self,
        keys: Sequence[str],
        calls: Sequence[Sequence[float]],
        default_limits: Sequence[float],
        pacing: Pacing,
        corrections: Sequence[float] | None = None,
    ) -> list[float]:
        settles = corrections or (0.0,) * len(keys)
        with self._lock:
            now = time.monotonic()
            start = max(now, self._budget(keys[0]).paused_until)
            budgets: list[tuple[_Budget, float, float, float] | None] = []
            tats: list[float] = []
            touched = [False] * len(keys)
            for index, (key, default, correction) in enumerate(
                zip(keys, default_limits, settles, strict=True)
            ):
                budget = self._budget(key)
                limit = budget.limit if budget.limit is not None else default
                if limit <= 0:
                    budgets.append(None)
                    tats.append(0.0)
                    continue
                burst = max(1.0, limit * pacing.burst_s / 60)
                interval = 60 / max(limit * (1 - pacing.margin) - burst, limit / 2)
                tat = budget.tat or now
                if correction:
                    touched[index] = True
                    if correction < 0:
                        tat = max(tat + correction * interval, now)
                    else:
                        tat = max(tat, now) + correction * interval
                budgets.append((budget, limit, burst, interval))
                tats.append(tat)
            waits: list[float] = []
            reserved = False
            for costs in calls:
                wait = start - now
                next_tats = list(tats)
                for index, cost in enumerate(costs):
                    paced = budgets[index]
                    if paced is None or cost <= 0:
                        continue
                    _, limit, burst, interval = paced
                    next_tats[index] = max(tats[index], start) + min(cost, limit) * interval
                    wait = max(wait, next_tats[index] - burst * interval - now)
                taking = any(cost > 0 for cost in costs)
                if taking and wait > pacing.max_wait_s:
                    waits.append(-wait)
                    continue
                reserved = True
                for index, tat in enumerate(next_tats):
                    if tat != tats[index]:
                        tats[index], touched[index] = tat, True
                waits.append(wait if taking else 0.0)
            if reserved:
                for index, paced in enumerate(budgets):
                    if paced is not None and touched[index]:
                        paced[0].tat = tats[index]
            return waits

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
