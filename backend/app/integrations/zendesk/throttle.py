"""The client-side rate limit of one Zendesk account."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """Thread-safe token bucket sized so no 60-second window exceeds `requests_per_minute`."""

    def __init__(self, requests_per_minute: int, burst: int | None = None) -> None:
        if requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1")
        self.capacity = float(burst if burst is not None else max(1, requests_per_minute // 20))
        self.capacity = min(self.capacity, float(requests_per_minute))
        refill_per_minute = max(requests_per_minute - self.capacity, 1.0)
        self.rate_per_s = refill_per_minute / 60.0
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping as long as needed; returns the seconds waited."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._paused_until)
            self._tokens = min(
                self.capacity, self._tokens + (now - self._updated) * self.rate_per_s
            )
            self._updated = now
            self._tokens -= 1.0
            ready_at = now if self._tokens >= 0 else now - self._tokens / self.rate_per_s
            wait_s = max(start, ready_at) - now
        if wait_s > 0:
            time.sleep(wait_s)
        return wait_s

    def pause_for(self, seconds: float) -> None:
        """Hold every caller back (a 429 applies to the whole account)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
