"""Requests- and tokens-per-minute limits per API key, with OpenAI's headers.

Each key has a sliding one-minute window of (time, tokens). A request is admitted when the
window holds fewer requests than the RPM limit and its tokens fit under the TPM limit;
otherwise it is answered 429 and not counted, as OpenAI does. Every answer carries
`x-ratelimit-{limit,remaining,reset}-{requests,tokens}`; "reset" is the time until the
oldest counted request leaves the window (OpenAI's format: "20ms", "1s", "6m0s").

What a request costs against TPM follows OpenAI: its prompt tokens plus its output cap
(`max_completion_tokens` or `max_tokens`, times `n`) when it sets one, else the output it
got: a client that sets a generous cap is charged the cap, as upstream.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.openai_sim.common import SimResponse, _duration, _error

WINDOW_S = 60.0


@dataclass(frozen=True)
class Admission:
    headers: dict[str, str]
    wait_s: float | None = None
    """Seconds until the request would fit; None when it was admitted."""
    limited: str | None = None
    """"requests" or "tokens": which limit refused it."""


class KeyLimits:
    """The sliding windows of every key (callers hold the simulator's lock)."""

    def __init__(self) -> None:
        self._windows: dict[str, deque[tuple[float, int]]] = {}

    def _window(self, key: str, now: float) -> deque[tuple[float, int]]:
        window = self._windows.setdefault(key, deque())
        while window and now - window[0][0] >= WINDOW_S:
            window.popleft()
        return window

    def admit(
        self, key: str, tokens: int, *, rpm: int, tpm: int, now: float | None = None
    ) -> Admission:
        now = time.monotonic() if now is None else now
        window = self._window(key, now)
        used_requests = len(window)
        used_tokens = sum(count for _, count in window)
        limited = None
        wait_s: float | None = None
        if used_requests >= rpm:
            limited, wait_s = "requests", WINDOW_S - (now - window[0][0])
        elif used_tokens + tokens > tpm and window:
            limited = "tokens"
            freed, wait_s = used_tokens, 0.0
            for moment, count in window:  # wait until enough old tokens leave the window
                freed -= count
                wait_s = WINDOW_S - (now - moment)
                if freed + tokens <= tpm:
                    break
        if limited is None:
            window.append((now, tokens))
            used_requests += 1
            used_tokens += tokens
        return Admission(
            headers=self._headers(window, now, used_requests, used_tokens, rpm, tpm),
            wait_s=wait_s,
            limited=limited,
        )

    def snapshot(self, key: str, *, rpm: int, tpm: int) -> dict[str, str]:
        """The headers for an answer that is not counted (an error before any work)."""
        now = time.monotonic()
        window = self._window(key, now)
        used_tokens = sum(count for _, count in window)
        return self._headers(window, now, len(window), used_tokens, rpm, tpm)

    @staticmethod
    def _headers(
        window: deque[tuple[float, int]],
        now: float,
        used_requests: int,
        used_tokens: int,
        rpm: int,
        tpm: int,
    ) -> dict[str, str]:
        reset_s = WINDOW_S - (now - window[0][0]) if window else 0.0
        return {
            "x-ratelimit-limit-requests": str(rpm),
            "x-ratelimit-remaining-requests": str(max(0, rpm - used_requests)),
            "x-ratelimit-reset-requests": _duration(reset_s if used_requests else 0),
            "x-ratelimit-limit-tokens": str(tpm),
            "x-ratelimit-remaining-tokens": str(max(0, tpm - used_tokens)),
            "x-ratelimit-reset-tokens": _duration(reset_s if used_tokens else 0),
        }


def rate_limited_tokens(request: Mapping[str, Any], completion: Mapping[str, Any]) -> int:
    """The tokens a served request counts against TPM."""
    usage = completion.get("usage") or {}
    cap = request.get("max_completion_tokens") or request.get("max_tokens")
    n = request.get("n") if isinstance(request.get("n"), int) else 1
    if isinstance(cap, int) and cap > 0:
        return int(usage.get("prompt_tokens", 0)) + cap * max(1, n)
    return int(usage.get("total_tokens", 0))


def rate_limited(model_id: str, admission: Admission, *, rpm: int, tpm: int) -> SimResponse:
    """OpenAI's 429 for a request over its key's RPM or TPM."""
    wait_s = admission.wait_s or 0.0
    if admission.limited == "tokens":
        what = f"tokens per min (TPM): Limit {tpm}"
    else:
        what = f"requests per min (RPM): Limit {rpm}"
    return _error(
        429,
        f"Rate limit reached for {model_id} in organization org-sim on {what}. "
        f"Please try again in {wait_s:.3g}s.",
        type_=admission.limited or "requests",
        code="rate_limit_exceeded",
        headers={
            **admission.headers,
            "retry-after": str(max(1, math.ceil(wait_s))),
            "retry-after-ms": str(max(1, round(wait_s * 1000))),
        },
    )
