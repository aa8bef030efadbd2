"""Injected faults: queued or random, as HTTP errors or damaged content, and hangs."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Mapping

from fastapi import Request

from sandbox.openai_sim.common import FAULT_KINDS, FaultKind, SimResponse, _check_rates, _error


class FaultsMixin:
    """Fault injection (part of OpenAISimulator)."""

    def fail_next(self, n: int = 1, kind: FaultKind = "500") -> None:
        """Make the next `n` chat completion requests fail with `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        with self._lock:
            self._queued.extend([kind] * n)

    def set_fault_rates(self, rates: Mapping[str, float], seed: int | None = None) -> None:
        """Random faults, e.g. {"429": 0.05, "timeout": 0.01}; reproducible with `seed`."""
        _check_rates(rates)
        with self._lock:
            self._fault_rates = dict(rates)
            if seed is not None:
                self._rng = random.Random(seed)

    def release_hangs(self) -> None:
        """End every request currently hanging in a "timeout" fault."""
        self._release.set()

    def take_fault(self) -> str | None:
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            if self._fault_rates:
                roll = self._rng.random()
                for kind, rate in sorted(self._fault_rates.items()):
                    if roll < rate:
                        return kind
                    roll -= rate
        return None

    def status_fault(self, fault: str, model_id: str) -> SimResponse | None:
        """The HTTP error for a status-code fault, or None for content faults."""
        if fault == "429":
            wait = self.retry_after_s
            return _error(
                429,
                f"Rate limit reached for {model_id} in organization org-sim on requests per min "
                f"(RPM): Limit 3, Used 3, Requested 1. Please try again in {wait:g}s.",
                type_="requests",
                param=None,
                code="rate_limit_exceeded",
                headers={
                    "retry-after": str(max(1, math.ceil(wait))),
                    "retry-after-ms": str(round(wait * 1000)),
                },
            )
        if fault in ("500", "502", "503"):
            messages = {
                "500": "The server had an error while processing your request. Sorry about that!",
                "502": "Bad gateway.",
                "503": "The engine is currently overloaded, please try again later.",
            }
            return _error(int(fault), messages[fault], type_="server_error")
        return None

    async def hang(self, request: Request) -> None:
        """Stall like an overloaded upstream until the client gives up (or hang_s passes)."""
        release = self._release
        deadline = time.monotonic() + self.hang_s
        while time.monotonic() < deadline and not release.is_set():
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.02)


# --- HTTP layer --------------------------------------------------------------------------------
