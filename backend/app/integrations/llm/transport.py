"""The analysis call's HTTP: `POST {base_url}/chat/completions` over urllib3.

Every ticket the model answers costs this one call, so its CPU is the worker's: through the
SDK's generic `post` (request options, header merging, httpx's request and response models)
it took 1.5 to 2.3 ms of CPU a call at a batch's concurrency, against 0.8 ms through a
urllib3 pool (same simulator, same 1,000 realistic tickets, 100 threads). The SDK still
serves everything else (the connection test, the Batch API's files and batches).

What the SDK did for this call is kept: the same retry policy (connection failures,
timeouts, 408, 409, 429 and 5xx; `x-should-retry` overrides; `retry-after-ms` or
`retry-after` up to 60 s, else 0.5 s doubling up to 8 s with jitter), redirects never
followed, TLS on the SDK's trust store, proxies from the environment (`HTTPS_PROXY`,
`NO_PROXY`...), `OPENAI_BASE_URL` when no endpoint is given. Statuses are the caller's to
map; only transport failures raise here.
"""

from __future__ import annotations

import os
import random
import ssl
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as TransportTimeout

from app.integrations.llm.errors import LLMTimeoutError, LLMUpstreamError, retry_after_s

DEFAULT_BASE_URL = "https://api.openai.com/v1"
INITIAL_RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 8.0
MAX_RETRY_AFTER_S = 60.0
USER_AGENT = "ticket-triage"


@dataclass(frozen=True)
class ChatResponse:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (as httpx and the SDK honour it)."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    verdict = headers.get("x-should-retry")
    if verdict in ("true", "false"):
        return verdict == "true"
    return status in (408, 409, 429) or status >= 500


def retry_delay_s(attempt: int, headers: Mapping[str, str] | None) -> float:
    """Seconds before retry number `attempt` (0 for the first retry)."""
    told = retry_after_s(headers) if headers is not None else None
    if told is not None and 0 < told <= MAX_RETRY_AFTER_S:
        return told
    backoff = min(INITIAL_RETRY_DELAY_S * 2.0**attempt, MAX_RETRY_DELAY_S)
    return backoff * (1 - 0.25 * random.random())


class ChatTransport:
    """One account's chat completions endpoint, with a connection pool its threads share."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None,
        *,
        ssl_context: ssl.SSLContext,
        connections: int = 50,
    ) -> None:
        root = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.url = f"{root}/chat/completions"
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self.connections = connections  # kept open between calls; more are opened, not kept
        options = {"maxsize": connections, "block": False, "ssl_context": ssl_context}
        proxy = _proxy_for(self.url)
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )
        self.closed = False

    def post(self, content: bytes, *, timeout_s: float, max_retries: int) -> ChatResponse:
        """The endpoint's last answer, whatever its status, after up to `max_retries`
        retries; LLMTimeoutError or LLMUpstreamError when no answer came."""
        timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
        attempt = 0
        while True:
            headers: Mapping[str, str] | None = None
            try:
                response = self._pool.urlopen(
                    "POST",
                    self.url,
                    body=content,
                    headers=self._headers,
                    timeout=timeout,
                    retries=False,
                    redirect=False,
                    preload_content=True,
                )
            except HTTPError as exc:
                if attempt >= max_retries:
                    raise _transport_error(exc) from None
            else:
                headers = response.headers
                if attempt >= max_retries or not should_retry(response.status, headers):
                    return ChatResponse(response.status, headers, response.data)
            time.sleep(retry_delay_s(attempt, headers))
            attempt += 1

    def close(self) -> None:
        self.closed = True
        self._pool.clear()


def _transport_error(exc: HTTPError) -> LLMTimeoutError | LLMUpstreamError:
    if isinstance(exc, TransportTimeout) and not isinstance(exc, NewConnectionError):
        return LLMTimeoutError("the model did not answer in time")
    return LLMUpstreamError(f"cannot reach the model endpoint: {str(exc)[:200]}")
