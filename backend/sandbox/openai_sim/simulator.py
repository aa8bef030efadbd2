"""The simulated OpenAI account: configuration, recorded calls, auth, rate limits."""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from sandbox.openai_sim.batches import BatchesMixin
from sandbox.openai_sim.common import (
    DEFAULT_MODELS,
    SIM_API_KEY,
    RecordedCall,
    SimFile,
    SimModel,
    SimResponse,
    _check_rates,
    _error,
)
from sandbox.openai_sim.completions import CompletionsMixin
from sandbox.openai_sim.faults import FaultsMixin
from sandbox.openai_sim.heuristics import Labeller, _analyse
from sandbox.openai_sim.limits import Admission, KeyLimits

DEFAULT_RPM = 10_000
DEFAULT_TPM = 10_000_000
"""Nominal limits per key: high enough that nothing is refused unless a test or bench
lowers them (constructor, attributes, or OPENAI_SIM_RPM / OPENAI_SIM_TPM for the CLI)."""


class OpenAISimulator(CompletionsMixin, BatchesMixin, FaultsMixin):
    """State and behaviour of the fake OpenAI account; thread-safe."""

    def __init__(
        self,
        *,
        valid_keys: Iterable[str] | None = (SIM_API_KEY,),
        models: Iterable[SimModel] = DEFAULT_MODELS,
        latency_s: float = 0.0,
        hang_s: float = 30.0,
        batch_delay_s: float = 0.0,
        retry_after_s: float = 1.0,
        fault_rates: Mapping[str, float] | None = None,
        seed: int = 0,
        rate_limit_requests: int = DEFAULT_RPM,
        rate_limit_tokens: int = DEFAULT_TPM,
        labeller: Labeller = _analyse,
    ) -> None:
        """`labeller` turns a request's messages into the labels the simulated model answers
        with (default: keyword heuristics); swap it to simulate a better or worse model."""
        _check_rates(fault_rates or {})
        self._config: dict[str, Any] = {
            "valid_keys": None if valid_keys is None else frozenset(valid_keys),
            "models": {model.id: model for model in models},
            "latency_s": latency_s,
            "hang_s": hang_s,
            "retry_after_s": retry_after_s,
            "fault_rates": dict(fault_rates or {}),
            "seed": seed,
            "rate_limit_requests": rate_limit_requests,
            "rate_limit_tokens": rate_limit_tokens,
            "batch_delay_s": batch_delay_s,
            "labeller": labeller,
        }
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.reset()

    # -- configuration and inspection --

    def reset(self) -> None:
        """Back to the constructor configuration: no queued faults, no calls, empty caches."""
        self._release.set()
        with self._lock:
            config = self._config
            self.valid_keys: frozenset[str] | None = config["valid_keys"]
            self.models: dict[str, SimModel] = dict(config["models"])
            self.latency_s: float = config["latency_s"]
            self.hang_s: float = config["hang_s"]
            self.retry_after_s: float = config["retry_after_s"]
            self.rate_limit_requests: int = config["rate_limit_requests"]
            self.rate_limit_tokens: int = config["rate_limit_tokens"]
            self._fault_rates: dict[str, float] = dict(config["fault_rates"])
            self._rng = random.Random(config["seed"])
            self._queued: deque[str] = deque()
            self._calls: list[RecordedCall] = []
            self._prefix_cache: set[tuple[str, int, str]] = set()
            self._limits = KeyLimits()
            self.batch_delay_s: float = config["batch_delay_s"]
            self.labeller: Labeller = config["labeller"]
            self._files: dict[str, SimFile] = {}
            self._batches: dict[str, dict[str, Any]] = {}
            self._batch_rng = random.Random(config["seed"])
        self._release = threading.Event()

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat completion requests received so far, oldest first."""
        return [
            call.body
            for call in self.calls
            if call.path.endswith("/chat/completions") and isinstance(call.body, dict)
        ]

    def last_chat_request(self) -> dict[str, Any]:
        requests = self.chat_requests()
        if not requests:
            raise LookupError("no chat completion request recorded")
        return requests[-1]

    # -- request handling (HTTP-independent) --

    def authorized(self, authorization: str | None) -> SimResponse | None:
        """None when the bearer key is accepted, else OpenAI's 401."""
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code=None,
            )
        if self.valid_keys is not None and key not in self.valid_keys:
            shown = f"{key[:3]}{'*' * 6}{key[-2:]}" if len(key) > 8 else "*" * len(key)
            return _error(
                401,
                f"Incorrect API key provided: {shown}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        return None

    def record(self, method: str, path: str, body: Any) -> RecordedCall:
        call = RecordedCall(method=method, path=path, body=body)
        with self._lock:
            self._calls.append(call)
        return call

    def count_request(self, tokens: int, key: str = "") -> Admission:
        """Count a request of `tokens` against `key`'s RPM and TPM (sliding minute)."""
        with self._lock:
            return self._limits.admit(
                key, tokens, rpm=self.rate_limit_requests, tpm=self.rate_limit_tokens
            )

    def limit_headers(self, key: str = "") -> dict[str, str]:
        """`key`'s rate-limit headers without counting a request."""
        with self._lock:
            return self._limits.snapshot(
                key, rpm=self.rate_limit_requests, tpm=self.rate_limit_tokens
            )
