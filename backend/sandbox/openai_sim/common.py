"""Constants, models, records and the error shape shared by the OpenAI simulator."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

SIM_API_KEY = "sk-sim-test-key"
FaultKind = Literal[
    "429", "500", "502", "503", "timeout", "malformed", "schema", "refusal", "length"
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

CHARS_PER_TOKEN = 4
CACHE_MIN_TOKENS = 1024
CACHE_BLOCK_TOKENS = 128
BATCH_ENDPOINTS = ("/v1/chat/completions",)
BATCH_WINDOW_S = 24 * 3600
MAX_BATCH_REQUESTS = 50_000
REASONING_TOKENS = {"none": 0, "minimal": 16, "low": 96, "medium": 320, "high": 1200}


@dataclass(frozen=True)
class SimModel:
    id: str
    created: int = 1_721_172_741
    owned_by: str = "system"
    shutdown_date: str | None = None
    reasoning: bool = False
    snapshot: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.owned_by,
            "shutdown_date": self.shutdown_date,
        }


DEFAULT_MODELS: tuple[SimModel, ...] = (
    SimModel("gpt-4o-mini", shutdown_date="2027-01-14", snapshot="gpt-4o-mini-2024-07-18"),
    SimModel("gpt-4o", created=1_715_367_049, snapshot="gpt-4o-2024-08-06"),
    SimModel("gpt-4.1", created=1_744_316_542, snapshot="gpt-4.1-2025-04-14"),
    SimModel("gpt-4.1-mini", created=1_744_318_173, snapshot="gpt-4.1-mini-2025-04-14"),
    SimModel("gpt-4.1-nano", created=1_744_321_707, snapshot="gpt-4.1-nano-2025-04-14"),
    SimModel("gpt-6-luna", created=1_790_000_000, reasoning=True),
)


@dataclass
class RecordedCall:
    """One request as the simulator saw it (the Authorization header is never kept)."""

    method: str
    path: str
    body: Any
    fault: str | None = None
    status: int | None = None
    response: Any = None
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SimResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SimFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


def _error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> SimResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return SimResponse(status, body, dict(headers or {}))


def _duration(seconds: float) -> str:
    """OpenAI's reset format: "20ms", "1s", "6m0s"."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    if minutes:
        return f"{int(minutes)}m{int(rest)}s"
    return f"{rest:.3g}s"


def _check_rates(rates: Mapping[str, float]) -> None:
    for kind, rate in rates.items():
        if kind not in FAULT_KINDS or not 0 <= rate <= 1:
            raise ValueError(f"bad fault rate {kind!r}={rate!r}")
    if sum(rates.values()) > 1:
        raise ValueError("fault rates add up to more than 1")
