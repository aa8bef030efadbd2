"""The analysis call's HTTP: `POST {base_url}/chat/completions` over libcurl (pycurl).

Every ticket the model answers costs this one call, so its CPU is the worker's. Through the
SDK's generic `post` it took 1.5 to 2.3 ms of CPU a call at a batch's concurrency; through
a urllib3 pool 0.8 ms, most of it `http.client` parsing the answer's headers with the
`email` package; through libcurl, which sends, reads and parses in C with the GIL released,
0.2 ms (same simulator, same realistic tickets, 100 threads: see the README). The SDK still
serves everything else (the connection test, the Batch API's files and batches).

What the SDK did for this call is kept: the same retry policy (connection failures,
timeouts, 408, 409, 429 and 5xx; `x-should-retry` overrides; `retry-after-ms` or
`retry-after` up to 60 s, else 0.5 s doubling up to 8 s with jitter), redirects never
followed, TLS verified against the SDK's trust store (`SSL_CERT_FILE`, `SSL_CERT_DIR`, else
the system's), proxies from the environment (`HTTPS_PROXY`, `NO_PROXY`... as Python reads
them), `OPENAI_BASE_URL` when no endpoint is given. Statuses are the caller's to map; only
transport failures raise here.
"""

from __future__ import annotations

import io
import os
import random
import ssl
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import pycurl

from app.integrations.llm.errors import LLMTimeoutError, LLMUpstreamError, retry_after_s

DEFAULT_BASE_URL = "https://api.openai.com/v1"
INITIAL_RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 8.0
MAX_RETRY_AFTER_S = 60.0
USER_AGENT = "ticket-triage"


@dataclass(frozen=True)
class ChatResponse:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (as httpx and the SDK honour it)."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


def trust_store() -> tuple[str | None, str | None]:
    """The CA file and directory the SDK's HTTP client trusts: `SSL_CERT_FILE` or
    `SSL_CERT_DIR` when set, else the ones Python's OpenSSL was built with."""
    if cafile := os.environ.get("SSL_CERT_FILE"):
        return cafile, None
    if capath := os.environ.get("SSL_CERT_DIR"):
        return None, capath
    paths = ssl.get_default_verify_paths()
    return (
        paths.openssl_cafile if os.path.isfile(paths.openssl_cafile) else None,
        paths.openssl_capath if os.path.isdir(paths.openssl_capath) else None,
    )


def parse_headers(lines: list[bytes]) -> dict[str, str]:
    """The last response's headers (a proxy's CONNECT answer comes first), names lower-cased."""
    headers: dict[str, str] = {}
    for line in lines:
        if line.startswith(b"HTTP/"):
            headers = {}
            continue
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return headers


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
    """One account's chat completions endpoint. Each call takes an idle libcurl handle (a
    handle keeps its connection open between calls) and gives it back; up to `connections`
    idle handles are kept, more are opened when more calls run at once, then closed."""

    def __init__(self, api_key: str, base_url: str | None, *, connections: int = 50) -> None:
        root = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.url = f"{root}/chat/completions"
        self._headers = [
            f"Authorization: Bearer {api_key}",
            "Content-Type: application/json",
            "Accept: application/json",
            f"User-Agent: {USER_AGENT}",
            "Expect:",  # no `100-continue` round trip before a large body
        ]
        self.connections = connections
        self._proxy = _proxy_for(self.url) or ""  # "": none, whatever libcurl would read
        self._cafile, self._capath = trust_store()
        self._idle: list[pycurl.Curl] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.closed = False

    def _new_handle(self) -> pycurl.Curl:
        handle = pycurl.Curl()
        handle.setopt(pycurl.URL, self.url)
        handle.setopt(pycurl.HTTPHEADER, self._headers)
        handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)  # a 3xx is an answer, not followed
        handle.setopt(pycurl.NOSIGNAL, 1)  # timeouts without SIGALRM: threads call this
        handle.setopt(pycurl.PROXY, self._proxy)
        handle.setopt(pycurl.TCP_KEEPALIVE, 1)
        if self._cafile:
            handle.setopt(pycurl.CAINFO, self._cafile)
        if self._capath:
            handle.setopt(pycurl.CAPATH, self._capath)
        return handle

    def _take(self) -> pycurl.Curl:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's connections are its
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._new_handle()

    def _give_back(self, handle: pycurl.Curl) -> None:
        with self._lock:
            if not self.closed and len(self._idle) < self.connections:
                self._idle.append(handle)
                return
        handle.close()

    def _send_once(self, content: bytes, timeout_s: float) -> ChatResponse:
        handle = self._take()
        body = io.BytesIO()
        header_lines: list[bytes] = []
        try:
            handle.setopt(pycurl.POSTFIELDS, content)
            handle.setopt(pycurl.WRITEFUNCTION, body.write)
            handle.setopt(pycurl.HEADERFUNCTION, header_lines.append)
            handle.setopt(pycurl.TIMEOUT_MS, max(1, round(timeout_s * 1000)))
            handle.perform()
            status = int(handle.getinfo(pycurl.RESPONSE_CODE))
        except pycurl.error as exc:
            handle.close()  # its connection's state is unknown
            raise _transport_error(exc) from None
        self._give_back(handle)
        return ChatResponse(status, parse_headers(header_lines), body.getvalue())

    def post(self, content: bytes, *, timeout_s: float, max_retries: int) -> ChatResponse:
        """The endpoint's last answer, whatever its status, after up to `max_retries`
        retries; LLMTimeoutError or LLMUpstreamError when no answer came."""
        attempt = 0
        while True:
            headers: Mapping[str, str] | None = None
            try:
                response = self._send_once(content, timeout_s)
            except (LLMTimeoutError, LLMUpstreamError):
                if attempt >= max_retries:
                    raise
            else:
                headers = response.headers
                if attempt >= max_retries or not should_retry(response.status, headers):
                    return response
            time.sleep(retry_delay_s(attempt, headers))
            attempt += 1

    def close(self) -> None:
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for handle in idle:
            handle.close()


def _transport_error(exc: pycurl.error) -> LLMTimeoutError | LLMUpstreamError:
    code, message = exc.args if len(exc.args) == 2 else (None, str(exc))
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return LLMTimeoutError("the model did not answer in time")
    return LLMUpstreamError(f"cannot reach the model endpoint: {str(message)[:200]}")
